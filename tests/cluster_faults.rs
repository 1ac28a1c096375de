//! Cluster mode with the Redis connection cut at every command of an operation: a
//! stream is counted open in the shared core exactly when its lease exists, so a stream
//! is never left counted open with nothing to close it (its lease expiring is what
//! closes the streams of a node that cannot). Redis executes the commands up to the cut
//! one, the reply to that one is lost, and nothing after it arrives; the operation is
//! repeated with the cut one command later until it runs whole. Skipped (and says so)
//! when Redis does not answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use pqcall::cluster::Cluster;
use pqcall::cluster::RedisLog;
use pqcall_signaling::{CoreConfig, LogConfig, Scope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

const REDIS: &str = "127.0.0.1:6379";

/// Where the proxy cuts: command numbers count from when it was armed.
struct Cut {
    next: u64,
    /// The command whose reply is lost (`u64::MAX`: never).
    at: u64,
    /// Whether a cut happened since the proxy was armed.
    happened: bool,
}

/// A TCP proxy in front of Redis that cuts its connections at the armed command.
struct CutProxy {
    url: String,
    cut: Arc<Mutex<Cut>>,
}

impl CutProxy {
    async fn start() -> CutProxy {
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
    fn arm(&self, at: u64) {
        *self.cut.lock().unwrap() = Cut {
            next: 0,
            at,
            happened: false,
        };
    }

    /// Stops cutting; says whether a cut happened.
    fn disarm(&self) -> bool {
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

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn shared(url: &str, prefix: &str) -> (Arc<RedisLog>, Cluster) {
    let cfg = LogConfig {
        max_events: 100,
        max_age_ms: 60_000,
        ..LogConfig::default()
    };
    let log = Arc::new(RedisLog::connect(url, prefix, cfg).await.unwrap());
    let shared = Cluster::new(log.clone(), CoreConfig::default(), 60_000);
    (log, shared)
}

/// `user`'s stream leases and the connections the core counts open for `user`.
async fn observe(
    direct: &Cluster,
    redis: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    user: &str,
) -> (usize, usize) {
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}:streams"))
        .arg(0)
        .arg(-1)
        .query_async(redis)
        .await
        .unwrap();
    let leases = members
        .iter()
        .filter(|m| {
            serde_json::from_str::<(String, String, String, u64)>(m)
                .unwrap()
                .0
                == user
        })
        .count();
    let scope = Scope::users([user]);
    let online = direct
        .transact(scope, None, |core| {
            Ok((core.online_devices(user), Vec::new()))
        })
        .await
        .unwrap();
    (leases, online)
}

/// Waits until `log`'s connection works again after a cut (it reconnects by itself).
async fn reconnected(log: &RedisLog) {
    let back = async {
        while !log.ping().await {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), back)
        .await
        .expect("the connection through the proxy never came back");
}

/// Runs `run` with the cut at its first command, then its second, and so on until it
/// runs whole (`run` says whether a cut happened).
async fn at_every_cut(what: &str, via: &RedisLog, mut run: impl AsyncFnMut(u64) -> bool) {
    let mut cut_at = 0;
    loop {
        assert!(cut_at < 50, "{what} never ran whole");
        reconnected(via).await;
        if !run(cut_at).await {
            break;
        }
        cut_at += 1;
    }
    assert!(
        cut_at >= 2,
        "{what} took {cut_at} commands: nothing was cut"
    );
}

#[tokio::test]
async fn a_stream_is_counted_open_exactly_while_its_lease_exists_wherever_redis_is_cut() {
    if TcpStream::connect(REDIS).await.is_err() {
        eprintln!("SKIPPED: Redis does not answer at {REDIS}");
        return;
    }
    let proxy = CutProxy::start().await;
    let prefix = format!("pqcall-faults-{:x}", now_ms());
    let (via_log, via) = shared(&proxy.url, &prefix).await;
    let (_, direct) = shared(&format!("redis://{REDIS}"), &prefix).await;
    let mut redis = redis::Client::open(format!("redis://{REDIS}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    // Opening a stream, cut at each of its commands in turn.
    at_every_cut("opening a stream", &via_log, async |cut_at| {
        let user = format!("open-{cut_at}");
        proxy.arm(cut_at);
        let opened = via.open_stream(now_ms(), &user, None, 1).await;
        let cut = proxy.disarm();
        let (leases, online) = observe(&direct, &mut redis, &prefix, &user).await;
        assert_eq!(leases, online, "cut at command {cut_at}: {opened:?}");
        if opened.is_ok() {
            assert_eq!(online, 1, "opened, yet not counted open");
        }
        cut
    })
    .await;

    // Closing one, likewise.
    at_every_cut("closing a stream", &via_log, async |cut_at| {
        let user = format!("close-{cut_at}");
        let conn = via.open_stream(now_ms(), &user, None, 1).await.unwrap();
        assert_eq!(observe(&direct, &mut redis, &prefix, &user).await, (1, 1));
        proxy.arm(cut_at);
        let closed = via.close_stream(&user, &conn, 1).await;
        let cut = proxy.disarm();
        let (leases, online) = observe(&direct, &mut redis, &prefix, &user).await;
        assert_eq!(leases, online, "cut at command {cut_at}: {closed:?}");
        if let Ok(closed) = closed {
            assert!(closed, "no other node could have closed it");
            assert_eq!(online, 0, "closed, yet still counted open");
        }
        cut
    })
    .await;
}
