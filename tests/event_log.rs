//! The embedded event log against the conformance suite every backend passes (the
//! Redis log runs it in `cluster_backends.rs`).

use pqcall::event_log::conformance;
use pqcall_signaling::MemoryLog;

const T0: u64 = 1_700_000_000_000;

#[tokio::test]
async fn memory_log_conforms() {
    let log = MemoryLog::new(conformance::CONFIG, 42);
    conformance::run(&log, 1, T0).await;
    // The suite can run twice on one log (it uses fresh users).
    conformance::run(&log, 2, T0).await;
}
