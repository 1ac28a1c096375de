//! pqcall: WebRTC call signaling over HTTP POST and Server-Sent Events, with an
//! ML-KEM-768 call handshake between the browsers (docs/PROTOCOL.md).
//!
//! The service is a thin shell around [`pqcall_signaling::Core`]: handlers parse and
//! authenticate, the core decides, and the engine behind [`AppState`] performs the
//! outputs (append to the per-user log, push to open streams, schedule timers) on one
//! node, or in a cluster through Redis. `docs/ARCHITECTURE.md` draws the layers.
//!
//! Embed the router in another axum application:
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! let config = pqcall::Config::default();
//! let state = pqcall::AppState::new(config, b"a secret shared with your identity provider");
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "my app" }))
//!     .merge(pqcall::api_router(state));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! [`run`] starts the engine's background tasks; an application that serves a state made
//! by [`AppState::from_config`] itself calls [`AppState::start`] once (cluster mode needs
//! it; one node has none).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
#[cfg(feature = "client")]
pub mod client;
mod clock;
mod config;
mod engine;
mod error;
pub mod event_log;
mod hub;
pub mod jwks;
mod live_queue;
mod metrics;
pub mod openapi;
mod routes;
mod self_wake;
mod serve;
mod sse;
mod state;
pub mod store;
mod tls;
mod token_cache;

/// Cluster mode's engine parts, for tests and tools: the records transaction and the
/// Redis event log.
#[cfg(feature = "cluster")]
pub use engine::cluster;

use std::future::Future;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use auth::Auth;
pub use config::{Config, Secret};
pub use error::{ApiError, StartError, status};
pub use routes::extract::{AuthUser, BODY_LIMIT};
pub use routes::server::publish_app_event;
pub use routes::{Access, RouteInfo, api_router, router, routes};
pub use state::AppState;
pub use store::{ActivityStore, ChatStore, MemoryStore, SqliteStore};
pub use tls::Tls;

/// Serves `state` on `listener` (HTTP/1.1 and HTTP/2; HTTPS when the state was made
/// with TLS, see [`AppState::from_config`]; with the connection limits of its [`Config`])
/// until `shutdown` completes; then ends every stream and returns once open
/// requests have finished.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.start();
    let app = router(state.clone());
    let limits = serve::ConnLimits::of(&state.0.config);
    let tls = state.0.tls.clone();
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: ending every stream");
        state.shutdown_token().cancel();
        state.0.hub.close_all();
        stopping.cancel();
    });
    serve::serve(listener, app, limits, tls, stop).await
}

/// Serves `state` on a free port of 127.0.0.1 in a task until `shutdown` completes: the
/// base URL (`http://127.0.0.1:<port>`) and the task. For tests, benchmarks and tools.
pub async fn serve_loopback(
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((base, tokio::spawn(run(listener, state, shutdown))))
}
