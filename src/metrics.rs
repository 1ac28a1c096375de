//! Prometheus metrics (`GET /metrics`), with the `prometheus-client` crate.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use pqcall_signaling::Replay;
use pqcall_signaling::stream::Position;

use crate::engine::Counts;

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
    workers: Gauge,
    connections: Gauge,
    log_bytes: Gauge,
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
            workers: Gauge::default(),
            connections: Gauge::default(),
            log_bytes: Gauge::default(),
        };
        registry.register(
            "event_log_bytes",
            "Bytes of events held for resume in this node's memory (one-node mode)",
            m.log_bytes.clone(),
        );
        registry.register(
            "runtime_alive_tasks",
            "Tasks alive in the server's runtime (streams, timers, connections)",
            m.tasks.clone(),
        );
        registry.register(
            "runtime_workers",
            "Worker threads of the server's runtime (`--workers`)",
            m.workers.clone(),
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

impl Metrics {
    /// Records one request's latency under its route pattern (never the raw URI).
    pub fn observe(&self, route: String, seconds: f64) {
        self.latency
            .get_or_create(&RouteLabel { route })
            .observe(seconds);
    }

    /// Sets the gauges read at scrape time: open streams, the runtime's alive tasks and
    /// workers, log bytes, connections and calls.
    pub fn set_gauges(
        &self,
        open_streams: usize,
        (runtime, log_bytes): (Option<(usize, usize)>, Option<u64>),
        counts: Option<Counts>,
    ) {
        self.open_streams.set(open_streams as i64);
        if let Some(bytes) = log_bytes {
            self.log_bytes.set(bytes as i64);
        }
        if let Some((tasks, workers)) = runtime {
            self.tasks.set(tasks as i64);
            self.workers.set(workers as i64);
        }
        if let Some((connections, calls)) = counts {
            self.connections.set(connections as i64);
            for (s, n) in calls {
                let state = s.as_str().to_owned();
                self.calls
                    .get_or_create(&StateLabel { state })
                    .set(n as i64);
            }
        }
    }

    /// Counts a stream that resumed with a replay, or got a reset.
    pub fn count_start(&self, start: &Position) {
        match start {
            Position::Resumed {
                replay: Replay::Events(_),
                ..
            } => {
                self.replays.inc();
            }
            Position::Resumed {
                replay: Replay::Reset { .. },
                ..
            } => {
                self.resets.inc();
            }
            _ => {}
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut body = String::new();
        prometheus_client::encoding::text::encode(&mut body, &self.registry)?;
        Ok(body)
    }
}
