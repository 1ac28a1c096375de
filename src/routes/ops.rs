//! Operational routes: `/healthz` and `/metrics` (the request latency it reports is
//! recorded by `envelope.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// `GET /metrics`
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "application/openmetrics-text", description = "Prometheus / OpenMetrics text")))]
pub async fn render(State(state): State<AppState>) -> Response {
    let runtime = tokio::runtime::Handle::try_current().ok();
    let runtime = runtime.map(|rt| (rt.metrics().num_alive_tasks(), rt.metrics().num_workers()));
    let m = &state.0.metrics;
    let log_bytes = state.0.engine.log_bytes();
    m.set_gauges(
        state.0.hub.open_streams(),
        (runtime, log_bytes),
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
