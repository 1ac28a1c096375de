//! A TCP proxy in front of the test Redis that counts the commands through it and can
//! cut its connections at the armed one: Redis executes the commands up to the cut one,
//! the reply to that one is lost, and nothing after it arrives.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// The test Redis.
pub const REDIS: &str = "127.0.0.1:6379";

/// Where the proxy cuts: command numbers count from when it was armed.
struct Cut {
    next: u64,
    /// The command whose reply is lost (`u64::MAX`: never).
    at: u64,
    /// Whether a cut happened since the proxy was armed.
    happened: bool,
}

/// A TCP proxy in front of Redis that cuts its connections at the armed command.
pub struct CutProxy {
    /// Where to connect to pass through it.
    pub url: String,
    cut: Arc<Mutex<Cut>>,
}

impl CutProxy {
    pub async fn start() -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let cut = Arc::new(Mutex::new(Cut {
            next: 0,
            at: u64::MAX,
            happened: false,
        }));
        let shared = cut.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, shared.clone()));
            }
        });
        CutProxy { url, cut }
    }

    /// Cuts at the `at`-th command from now.
    pub fn arm(&self, at: u64) {
        *self.cut.lock().unwrap() = Cut {
            next: 0,
            at,
            happened: false,
        };
    }

    /// The commands sent through since the proxy was last armed.
    pub fn commands(&self) -> u64 {
        self.cut.lock().unwrap().next
    }

    /// Stops cutting; says whether a cut happened.
    pub fn disarm(&self) -> bool {
        let mut c = self.cut.lock().unwrap();
        c.at = u64::MAX;
        c.happened
    }
}

/// The length of the first whole RESP2 value in `b`, if it is all there.
fn frame_len(b: &[u8]) -> Option<usize> {
    let line = b.windows(2).position(|w| w == b"\r\n")?;
    let after = line + 2;
    let count = || -> Option<i64> { std::str::from_utf8(&b[1..line]).ok()?.parse().ok() };
    match b[0] {
        b'+' | b'-' | b':' => Some(after),
        b'$' => match usize::try_from(count()?) {
            Ok(n) => (b.len() >= after + n + 2).then_some(after + n + 2),
            Err(_) => Some(after), // a null bulk string
        },
        b'*' => {
            let mut at = after;
            for _ in 0..count()?.max(0) {
                at += frame_len(&b[at..])?;
            }
            Some(at)
        }
        other => panic!("not RESP2: {:?}", other as char),
    }
}

/// What happens to the next whole value on one side of a relayed connection.
enum Pass {
    Send,
    /// Nothing more goes this way; the other side decides when the connection closes.
    Hold,
    /// The connection closes.
    Cut,
}

/// Copies whole RESP2 values from `rx` to `tx`, asking `pass` before each.
async fn frames(mut rx: OwnedReadHalf, mut tx: OwnedWriteHalf, mut pass: impl FnMut() -> Pass) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = rx.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(len) = frame_len(&buf) {
            match pass() {
                Pass::Send => {}
                Pass::Hold => std::future::pending::<()>().await,
                Pass::Cut => return,
            }
            if tx.write_all(&buf[..len]).await.is_err() {
                return;
            }
            buf.drain(..len);
        }
    }
}

/// Relays one connection: commands up, replies down, until the cut.
async fn relay(client: TcpStream, cut: Arc<Mutex<Cut>>) {
    let Ok(upstream) = TcpStream::connect(REDIS).await else {
        return;
    };
    let (client_rx, client_tx) = client.into_split();
    let (up_rx, up_tx) = upstream.into_split();
    // The number of each command sent and not answered yet, in order.
    let inflight = Arc::new(Mutex::new(VecDeque::<u64>::new()));
    let commands = frames(client_rx, up_tx, || {
        let mut c = cut.lock().unwrap();
        let n = c.next;
        c.next += 1;
        if n > c.at {
            // Never sent: the reply to the cut command closes the connection.
            return Pass::Hold;
        }
        inflight.lock().unwrap().push_back(n);
        Pass::Send
    });
    let replies = frames(up_rx, client_tx, || {
        let of = inflight.lock().unwrap().pop_front();
        let mut c = cut.lock().unwrap();
        if of.is_some_and(|n| n >= c.at) {
            c.happened = true;
            return Pass::Cut; // the reply is lost and the connection closes
        }
        Pass::Send
    });
    // Whichever side ends first drops both sockets.
    tokio::select! {
        _ = commands => {}
        _ = replies => {}
    }
}
