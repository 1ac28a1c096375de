//! Operational routes: request latency for `/metrics`, and `/metrics` itself.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

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
pub async fn render(State(state): State<AppState>) -> Response {
    let tasks = tokio::runtime::Handle::try_current().ok();
    let tasks = tasks.map(|rt| rt.metrics().num_alive_tasks());
    let m = &state.0.metrics;
    m.set_gauges(state.0.hub.open_streams(), tasks, state.counts().await);
    match m.encode() {
        Ok(body) => {
            let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            ([(axum::http::header::CONTENT_TYPE, kind)], body).into_response()
        }
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
