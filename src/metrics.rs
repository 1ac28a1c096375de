//! Prometheus metrics (`GET /metrics`), with the `prometheus-client` crate.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use pqcall_signaling::CallState;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

/// Every metric of the service.
pub struct Metrics {
    registry: Registry,
    /// Open SSE streams.
    pub open_streams: Gauge,
    /// Frames queued to streams.
    pub events_delivered: Counter<u64, AtomicU64>,
    /// Streams that resumed with a replay.
    pub replays: Counter<u64, AtomicU64>,
    /// Streams that got `reset`.
    pub resets: Counter<u64, AtomicU64>,
    /// Streams ended because their queue overflowed.
    pub slow_consumer_ends: Counter<u64, AtomicU64>,
    calls: Family<StateLabel, Gauge>,
    latency: Family<RouteLabel, Histogram>,
    tasks: Gauge,
    connections: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("pqcall");
        let m = Metrics {
            open_streams: Gauge::default(),
            events_delivered: Counter::default(),
            replays: Counter::default(),
            resets: Counter::default(),
            slow_consumer_ends: Counter::default(),
            calls: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
            }),
            registry: Registry::default(),
            tasks: Gauge::default(),
            connections: Gauge::default(),
        };
        registry.register(
            "runtime_alive_tasks",
            "Tasks alive in the server's runtime (streams, timers, connections)",
            m.tasks.clone(),
        );
        registry.register(
            "connections",
            "Known connection ids on this node (open, or in their grace period)",
            m.connections.clone(),
        );
        registry.register("open_streams", "Open SSE streams", m.open_streams.clone());
        registry.register(
            "events_delivered",
            "Frames queued to open streams",
            m.events_delivered.clone(),
        );
        registry.register(
            "replays",
            "Streams resumed with a replay",
            m.replays.clone(),
        );
        registry.register("resets", "Streams told to reset", m.resets.clone());
        registry.register(
            "slow_consumer_ends",
            "Streams ended because their queue overflowed",
            m.slow_consumer_ends.clone(),
        );
        registry.register("calls", "Known calls by state", m.calls.clone());
        registry.register(
            "request_duration_seconds",
            "Request latency by route",
            m.latency.clone(),
        );
        Metrics { registry, ..m }
    }
}

/// Records each request's latency under its route pattern (never the raw URI).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", |p| p.as_str())
        .to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    state
        .0
        .metrics
        .latency
        .get_or_create(&RouteLabel { route })
        .observe(start.elapsed().as_secs_f64());
    res
}

/// Connections (open or in their grace period) and calls by state: this process's, or
/// in cluster mode the whole cluster's (a node's own core holds none between requests).
/// `None` when Redis does not answer; the gauges then keep their last values.
async fn counts(state: &AppState) -> Option<(u64, Vec<(CallState, u64)>)> {
    #[cfg(feature = "cluster")]
    if let Some(shared) = state.shared() {
        return shared
            .gauges()
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "reading the cluster's gauges"))
            .ok();
    }
    let core = state.0.core.lock().await;
    let calls = core.calls_by_state().into_iter();
    let calls = calls.map(|(s, n)| (s, n as u64)).collect();
    Some((core.connection_count() as u64, calls))
}

/// `GET /metrics`
pub async fn render(State(state): State<AppState>) -> Response {
    let m = &state.0.metrics;
    m.open_streams.set(state.0.hub.open_streams() as i64);
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        m.tasks.set(rt.metrics().num_alive_tasks() as i64);
    }
    if let Some((connections, calls)) = counts(&state).await {
        m.connections.set(connections as i64);
        for (s, n) in calls {
            m.calls
                .get_or_create(&StateLabel {
                    state: s.as_str().to_owned(),
                })
                .set(n as i64);
        }
    }
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, &m.registry).is_err() {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
