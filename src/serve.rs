//! Serving connections: HTTP/1.1 and HTTP/2 on every accepted TCP connection (h2c with
//! prior knowledge on plain TCP; over TLS, h2 or http/1.1 as ALPN chose), with the limits a public deployment needs (HARDENING.md):
//!
//! - a cap on open connections in all and one per client address: a connection past
//!   either is closed as it arrives;
//! - a header timeout: a client that does not finish its request headers in time is
//!   disconnected, and so is a keep-alive connection idle that long between requests
//!   (hyper starts the same timer when it waits for the next request);
//! - a write timeout: a connection whose reader stopped reading is closed once a write
//!   has waited that long, so a stalled event stream gives its memory back.
//!
//! The body timeout is a layer of [`crate::api_router`], so embedders get it too.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::Config;
use crate::self_wake::Repoll;
use crate::tls::Tls;

/// Concurrent requests (streams) on one HTTP/2 connection: a browser's event stream and
/// its POSTs, with room for a few tabs.
const H2_STREAMS: u32 = 32;

/// The connection limits of [`Config`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// To send a request's headers, and idle between requests.
    pub header_timeout: Duration,
    /// For one write to make progress.
    pub write_timeout: Duration,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections per client address.
    pub max_per_ip: usize,
}

impl ConnLimits {
    /// The limits `config` sets.
    pub fn of(config: &Config) -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
            write_timeout: Duration::from_secs(config.write_timeout_secs.max(1)),
            max_connections: config.max_connections.max(1),
            max_per_ip: config.max_connections_per_ip.max(1),
        }
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`PerIp`], given back when the connection ends.
struct IpSlot(Arc<PerIp>, IpAddr);

/// The address a connection counts under: IPv4 as it is (also when written as an
/// IPv4-mapped IPv6 address), IPv6 by its /64, which one subscriber usually holds whole.
pub(crate) fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let ip = client_of(ip);
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = (self.0).0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Serves `app` on `listener` until `stop` is cancelled; then stops accepting, asks every
/// connection to finish its requests, and returns when they have.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    tls: Option<Tls>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let all = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait for connections to end.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let Ok(permit) = all.clone().try_acquire_owned() else {
            tracing::warn!("connection cap reached: closing a new connection");
            continue;
        };
        let Some(slot) = per_ip.take(peer.ip(), limits.max_per_ip) else {
            tracing::info!("per-address connection cap reached: closing a new connection");
            continue;
        };
        let one = serve_one(tcp, peer, app.clone(), limits, tls.clone(), stop.clone());
        connections.spawn(async move {
            one.await;
            drop((permit, slot));
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Whether the client's first bytes arrive within `within`, enough of them to tell
/// HTTP/1.1 from the HTTP/2 preface. hyper's protocol detection waits for them with no
/// timer of its own, so a client that connects and says nothing would be held forever.
async fn speaks_in_time(tcp: &TcpStream, within: Duration, stop: &CancellationToken) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let first = async {
        let mut buf = [0u8; PREFACE.len()];
        let mut pause = Duration::from_millis(5);
        loop {
            let n = tcp.peek(&mut buf).await?;
            if n == 0 {
                return Ok(false);
            }
            if n == PREFACE.len() || buf[..n] != PREFACE[..n] {
                return Ok::<_, std::io::Error>(true);
            }
            // Part of the preface: wait for the rest (peek does not consume), less
            // often the longer it takes.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    };
    tokio::select! {
        spoke = tokio::time::timeout(within, first) => matches!(spoke, Ok(Ok(true))),
        _ = stop.cancelled() => false,
    }
}

/// Serves one connection: TLS first when configured, then HTTP/1.1, or HTTP/2 when it
/// opens with the h2 preface.
async fn serve_one(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnLimits,
    tls: Option<Tls>,
    stop: CancellationToken,
) {
    if !speaks_in_time(&tcp, limits.header_timeout, &stop).await {
        tracing::debug!("a connection sent no request in time: closing it");
        return;
    }
    let _ = tcp.set_nodelay(true);
    let mut io = TimeoutStream::new(tcp);
    io.set_write_timeout(Some(limits.write_timeout));
    let io = Box::pin(io);
    let app = app.map_request(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let Some(tls) = tls else {
        return serve_http(TokioIo::new(io), app, limits, stop).await;
    };
    // The handshake gets the time a request's headers get.
    let handshake = tokio::time::timeout(limits.header_timeout, tls.acceptor().accept(io));
    let io = tokio::select! {
        done = handshake => match done {
            Ok(Ok(io)) => io,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake not done in time: closing the connection");
                return;
            }
        },
        _ = stop.cancelled() => return,
    };
    serve_http(TokioIo::new(io), app, limits, stop).await;
}

/// Serves HTTP on one connection (after TLS, if any) until it ends or `stop`.
async fn serve_http<I, S>(io: I, app: S, limits: ConnLimits, stop: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: tower::Service<
            Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // HTTP/2 multiplies what one connection can ask for: few streams, small windows.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_STREAMS)
        .initial_stream_window_size(64 * 1024)
        .initial_connection_window_size(1 << 20)
        .max_pending_accept_reset_streams(Some(16))
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.write_timeout);
    // hyper's protocol detection and the h2 handshake have no timer of their own: a
    // connection whose first request does not start in time is dropped (after TLS, a
    // client that finished the handshake and says nothing would be held forever).
    let first = Arc::new(tokio::sync::Notify::new());
    let app = {
        let first = first.clone();
        tower::ServiceExt::map_request(app, move |req: Request<hyper::body::Incoming>| {
            first.notify_one();
            req
        })
    };
    let silent = async {
        if tokio::time::timeout(limits.header_timeout, first.notified())
            .await
            .is_ok()
        {
            std::future::pending::<()>().await;
        }
    };
    let conn = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(app));
    let mut conn = Repoll::new(conn);
    let ended = tokio::select! {
        ended = &mut conn => ended,
        _ = silent => {
            tracing::debug!("no request in time on a connection: closing it");
            return;
        }
        _ = stop.cancelled() => {
            conn.inner().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
