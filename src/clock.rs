//! The one clock of the service: the core takes time as an argument.

use std::time::{SystemTime, UNIX_EPOCH};

use pqcall_signaling::Millis;

/// Unix milliseconds now.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
