//! Operational routes: `/healthz`, `/metrics` and the request latency it reports.

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use pqcall_signaling::Error;

use crate::error::ApiError;
use crate::state::AppState;

/// In development mode, only requests addressed to this machine by a loopback name
/// (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`; with `--force-dev`, also the bound
/// address) are served: a web page the developer visits cannot reach the dev server by
/// pointing its own host name at 127.0.0.1 (DNS rebinding) and mint tokens. 403 otherwise.
pub async fn dev_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let config = &state.0.config;
    if !config.dev {
        return next.run(req).await;
    }
    let host = req.uri().host().map(str::to_owned).or_else(|| {
        let h = req.headers().get(axum::http::header::HOST)?.to_str().ok()?;
        let authority: axum::http::uri::Authority = h.parse().ok()?;
        Some(authority.host().to_owned())
    });
    let bound = config.force_dev.then(|| config.bind.ip());
    if host.is_some_and(|h| is_local_host(&h, bound)) {
        return next.run(req).await;
    }
    let refused = Error::Forbidden("development mode answers only requests addressed to localhost");
    ApiError(refused).into_response()
}

/// Whether `host` (from a URI: IPv6 in brackets) names this machine by loopback, or is
/// the `bound` address.
fn is_local_host(host: &str, bound: Option<std::net::IpAddr>) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() || Some(ip) == bound)
}

/// Records each request's latency under its route pattern (never the raw URI).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>();
    let route = route.map_or("other", |p| p.as_str()).to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    state
        .0
        .metrics
        .observe(route, start.elapsed().as_secs_f64());
    res
}

/// `GET /metrics`
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "application/openmetrics-text", description = "Prometheus / OpenMetrics text")))]
pub async fn render(State(state): State<AppState>) -> Response {
    let tasks = tokio::runtime::Handle::try_current().ok();
    let tasks = tasks.map(|rt| rt.metrics().num_alive_tasks());
    let m = &state.0.metrics;
    let log_bytes = state.0.engine.log_bytes();
    m.set_gauges(
        state.0.hub.open_streams(),
        (tasks, log_bytes),
        state.counts().await,
    );
    match m.encode() {
        Ok(body) => {
            let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            ([(axum::http::header::CONTENT_TYPE, kind)], body).into_response()
        }
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /healthz`: 200 when this node and the engines it needs (Redis in cluster
/// mode) answer, 503 when one does not (a load balancer then sends traffic elsewhere).
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive and ready"), (status = 503, description = "an engine this node needs does not answer")))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    if state.ready().await {
        Json(serde_json::json!({"status": "ok"})).into_response()
    } else {
        let body = Json(serde_json::json!({"status": "unavailable"}));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}
