//! The HTTP routes, by family, and the one table they are served from. Each handler
//! checks its request in docs/PROTOCOL.md §1's order with the extractors of
//! [`extract`], then hands it to the core (through [`AppState`]) or the chat rules.

use axum::Router;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use tower_http::timeout::RequestBodyDeadlineLayer;
use utoipa::openapi::path::Paths;
use utoipa::openapi::{RefOr, schema::Schema};
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

pub mod activity;
pub mod auth;
pub mod calls;
pub mod chat;
mod demo;
mod envelope;
pub mod events;
pub mod extract;
pub(crate) mod guards;
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
    pub method: String,
    /// The path.
    pub path: String,
    /// Who may call it.
    pub access: Access,
}

/// The one table of routes. [`api_router`] serves it, [`crate::openapi::document`]
/// describes it (each handler's `#[utoipa::path]` gives its path, method and schemas)
/// and the auth tests walk it, so a route cannot be added without its document and its
/// access rule being tested.
fn table() -> Vec<(Access, UtoipaMethodRouter<AppState>)> {
    use Access::*;
    vec![
        (User, routes!(auth::authenticate)),
        (Stream, routes!(events::events)),
        (User, routes!(chat::create_conversation)),
        (User, routes!(chat::join_conversation)),
        (User, routes!(chat::send_message)),
        (User, routes!(chat::load_messages)),
        (User, routes!(chat::typing_start)),
        (User, routes!(chat::typing_stop)),
        (User, routes!(activity::list_conversations)),
        (User, routes!(activity::mark_read)),
        (User, routes!(activity::presence)),
        (User, routes!(activity::call_history)),
        (User, routes!(calls::offer)),
        (User, routes!(calls::answer)),
        (User, routes!(calls::confirm)),
        (User, routes!(calls::ice)),
        (User, routes!(calls::update)),
        (User, routes!(calls::ice_servers)),
        (User, routes!(calls::decline)),
        (User, routes!(calls::end)),
        (ServerKey, routes!(server::server_publish)),
        (Public, routes!(ops::healthz)),
        (Public, routes!(ops::render)),
        (Public, routes!(crate::openapi::document)),
        (Dev, routes!(auth::dev_token)),
    ]
}

/// The path and method of a table entry (each handler has exactly one).
fn info(access: Access, paths: &Paths) -> RouteInfo {
    let first = paths.paths.iter().next();
    let method = first.map_or(
        "GET",
        |(_, item)| if item.get.is_some() { "GET" } else { "POST" },
    );
    RouteInfo {
        method: method.to_owned(),
        path: first.map(|(path, _)| path.clone()).unwrap_or_default(),
        access,
    }
}

/// Every route of the service and who may call it.
pub fn routes() -> Vec<RouteInfo> {
    let each =
        |(access, (_, paths, _)): (Access, UtoipaMethodRouter<AppState>)| info(access, &paths);
    table().into_iter().map(each).collect()
}

/// The paths and schemas of every route, for the API document.
pub(crate) fn documented() -> (Paths, Vec<(String, RefOr<Schema>)>) {
    let mut all = Paths::new();
    let mut schemas = Vec::new();
    for (_, (s, paths, _)) in table() {
        all.paths.extend(paths.paths);
        schemas.extend(s);
    }
    (all, schemas)
}

/// Every API route, with no fallback, so that an application can `merge` it into a
/// router that has its own. Development-mode routes are included only when the state's
/// configuration enables them.
pub fn api_router(state: AppState) -> Router {
    let dev = state.0.config.dev;
    let mut api = Router::new();
    let per_address = axum::middleware::from_fn_with_state(state.clone(), guards::open_routes);
    for (access, (_, paths, handler)) in table() {
        let handler = match access {
            Access::Dev if !dev => continue,
            // Routes without a token pay per client address; the others per user.
            Access::Public | Access::Dev => handler.layer(per_address.clone()),
            _ => handler,
        };
        api = api.route(&info(access, &paths).path, handler);
    }
    // Development mode's Host check, only in development mode.
    if dev {
        api = api.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guards::dev_host,
        ));
    }
    let body_deadline = Duration::from_secs(state.0.config.body_timeout_secs.max(1));
    let api = api.layer(RequestBodyDeadlineLayer::new(body_deadline));
    // CORS only for configured origins: with none, browsers allow same-origin calls only,
    // and no request pays for the layer.
    let origins = &state.0.config.cors_origins;
    let api = if origins.is_empty() {
        api
    } else {
        api.layer(cors_layer(origins))
    };
    api.layer(envelope::EnvelopeLayer::new(state.clone()))
        .with_state(state)
}

/// [`api_router`] and the demo app (see `demo.rs`): what `pqcall serve` runs.
pub fn router(state: AppState) -> Router {
    let demo = demo::demo(state.0.config.web_dir.as_deref());
    api_router(state).merge(demo)
}

/// CORS for the configured origins only (`*`: any origin); with none, browsers allow
/// same-origin calls only.
fn cors_layer(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method};
    use tower_http::cors::AllowOrigin;
    let origins: Vec<&str> = origins.iter().map(|o| o.trim()).collect();
    let allowed = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        let list = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok());
        AllowOrigin::list(list)
    };
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
