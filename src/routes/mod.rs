//! The HTTP routes, by family, and the one table they are served from. Each handler
//! checks its request in docs/PROTOCOL.md §1's order with the extractors of
//! [`extract`], then hands it to the core (through [`AppState`]) or the chat rules.

use axum::Router;
use axum::routing::{get, post};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub mod auth;
pub mod calls;
pub mod chat;
pub mod events;
pub mod extract;
pub mod ops;
pub mod server;

type ApiResult<T> = Result<T, ApiError>;

/// Who may call a route. Exhaustive on purpose: the auth tests match every kind, so a
/// new kind cannot be added without its test.
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
            post(auth::authenticate),
        ),
        (r("GET", "/api/events", Stream), get(events::events)),
        (
            r("POST", "/api/conversations/create", User),
            post(chat::create_conversation),
        ),
        (
            r("POST", "/api/conversations/join", User),
            post(chat::join_conversation),
        ),
        (
            r("POST", "/api/messages/send", User),
            post(chat::send_message),
        ),
        (
            r("POST", "/api/messages/load", User),
            post(chat::load_messages),
        ),
        (
            r("POST", "/api/typing/start", User),
            post(chat::typing_start),
        ),
        (r("POST", "/api/typing/stop", User), post(chat::typing_stop)),
        (r("POST", "/api/calls/offer", User), post(calls::offer)),
        (r("POST", "/api/calls/answer", User), post(calls::answer)),
        (r("POST", "/api/calls/confirm", User), post(calls::confirm)),
        (r("POST", "/api/calls/ice", User), post(calls::ice)),
        (r("POST", "/api/calls/decline", User), post(calls::decline)),
        (r("POST", "/api/calls/end", User), post(calls::end)),
        (
            r("POST", "/api/server/publish", ServerKey),
            post(server::server_publish),
        ),
        (r("GET", "/healthz", Public), get(ops::healthz)),
        (r("GET", "/metrics", Public), get(ops::render)),
        (
            r("GET", "/api/openapi.json", Public),
            get(crate::openapi::document),
        ),
        (r("POST", "/api/dev/token", Dev), post(auth::dev_token)),
    ]
}

/// Every route of the service and who may call it.
pub fn routes() -> Vec<RouteInfo> {
    table().into_iter().map(|(info, _)| info).collect()
}

/// Every API route, with no fallback, so that an application can `merge` it into a
/// router that has its own. Development-mode routes are included only when the state's
/// configuration enables them.
pub fn api_router(state: AppState) -> Router {
    let dev = state.0.config.dev;
    let mut api = Router::new();
    for (info, handler) in table() {
        if info.access != Access::Dev || dev {
            api = api.route(info.path, handler);
        }
    }
    let cors = cors_layer(&state.0.config.cors_origins);
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    api.layer(axum::middleware::from_fn_with_state(state.clone(), ops::track))
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

/// [`api_router`] and the demo app (`--web-dir`) for every other path: what `pqcall
/// serve` runs.
pub fn router(state: AppState) -> Router {
    let web_dir = state.0.config.web_dir.clone();
    api_router(state).fallback_service(ServeDir::new(web_dir))
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
