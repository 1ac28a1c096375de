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
//!     .merge(pqcall::router(state));
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
mod events;
mod hub;
mod metrics;
pub mod openapi;
mod ops;
mod routes;
mod sse;
mod state;
pub mod store;

/// Cluster mode's engine parts, for tests and tools: the records transaction and the
/// Redis event log.
#[cfg(feature = "cluster")]
pub use engine::cluster;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

pub use auth::Auth;
pub use config::Config;
pub use error::{ApiError, status};
pub use routes::{BODY_LIMIT, publish_app_event};
pub use state::AppState;
pub use store::{ChatStore, MemoryStore, SqliteStore};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A user's bearer token.
    User,
    /// A user's bearer token or a single-use SSE ticket (the event stream).
    Stream,
    /// The server key of the embedding application's backend.
    ServerKey,
    /// Anyone (health, metrics, the API document).
    Public,
    /// Anyone, and only in development mode.
    Dev,
}

/// One route of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// The one table of routes: [`router`] is built from it and the auth tests walk it, so
/// a route cannot be added without its access rule being tested.
fn table() -> Vec<(RouteInfo, axum::routing::MethodRouter<AppState>)> {
    use Access::*;
    let r = |method, path, access| RouteInfo {
        method,
        path,
        access,
    };
    vec![
        (
            r("POST", "/api/auth/authenticate", User),
            post(routes::authenticate),
        ),
        (r("GET", "/api/events", Stream), get(events::events)),
        (
            r("POST", "/api/conversations/create", User),
            post(routes::create_conversation),
        ),
        (
            r("POST", "/api/conversations/join", User),
            post(routes::join_conversation),
        ),
        (
            r("POST", "/api/messages/send", User),
            post(routes::send_message),
        ),
        (
            r("POST", "/api/messages/load", User),
            post(routes::load_messages),
        ),
        (
            r("POST", "/api/typing/start", User),
            post(routes::typing_start),
        ),
        (
            r("POST", "/api/typing/stop", User),
            post(routes::typing_stop),
        ),
        (r("POST", "/api/calls/offer", User), post(routes::offer)),
        (r("POST", "/api/calls/answer", User), post(routes::answer)),
        (r("POST", "/api/calls/confirm", User), post(routes::confirm)),
        (r("POST", "/api/calls/ice", User), post(routes::ice)),
        (r("POST", "/api/calls/decline", User), post(routes::decline)),
        (r("POST", "/api/calls/end", User), post(routes::end)),
        (
            r("POST", "/api/server/publish", ServerKey),
            post(routes::server_publish),
        ),
        (r("GET", "/healthz", Public), get(routes::healthz)),
        (r("GET", "/metrics", Public), get(ops::render)),
        (
            r("GET", "/api/openapi.json", Public),
            get(openapi::document),
        ),
        (r("POST", "/api/dev/token", Dev), post(routes::dev_token)),
    ]
}

/// Every route of the service and who may call it.
pub fn routes() -> Vec<RouteInfo> {
    table().into_iter().map(|(info, _)| info).collect()
}

/// Every route of the service. Development-mode routes are included only when the
/// state's configuration enables them.
pub fn router(state: AppState) -> Router {
    let dev = state.0.config.dev;
    let web_dir = state.0.config.web_dir.clone();
    let mut api = Router::new();
    for (info, handler) in table() {
        if info.access != Access::Dev || dev {
            api = api.route(info.path, handler);
        }
    }
    let cors = cors_layer(&state.0.config.cors_origins);
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    api.fallback_service(ServeDir::new(web_dir))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::track))
        .layer(cors)
        // Every response names its request (given by a proxy, or a new UUID).
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            // Spans name the method and path only: query strings can hold tickets.
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(tower_http::request_id::SetRequestIdLayer::new(request_id, tower_http::request_id::MakeRequestUuid))
        .with_state(state)
}

/// CORS for the configured origins only; with none, browsers allow same-origin calls only.
fn cors_layer(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-pqcall-conn"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
}

/// Serves `state` on `listener` until `shutdown` completes; then ends every stream and
/// returns once open requests have finished.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = state.shutdown_token();
    state.start();
    let app = router(state.clone());
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: ending every stream");
        token.cancel();
        state.0.hub.close_all();
    })
    .await
}
