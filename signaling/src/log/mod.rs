//! The per-user event log (docs/PROTOCOL.md §3): ids `<epoch>-<seq>`, a replay window bounded
//! by count and age, and "everything after id X" or `reset`.
//!
//! These are the log's rules: ids, audiences, the window and [`replay_rule`], shared by
//! every backend. [`MemoryLog`] is the embedded one; the service's `EventLog` trait
//! puts it and the Redis log behind one async interface, with a conformance suite both
//! pass.

use std::fmt;
use std::sync::Arc;

use compact_str::CompactString;

use crate::ids::Millis;

/// An event id: `<epoch>-<seq>`. Within one epoch, `seq` increases by one per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    /// Changes whenever the user's log cannot be continued.
    pub epoch: u64,
    /// Position in the log; 0 means "before the first event".
    pub seq: u64,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

impl EventId {
    /// Parses `<epoch>-<seq>` (decimal, no sign, no padding beyond what `u64` prints).
    pub fn parse(s: &str) -> Option<EventId> {
        let (e, q) = s.split_once('-')?;
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 20 && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(e) || !digits(q) {
            return None;
        }
        Some(EventId {
            epoch: e.parse().ok()?,
            seq: q.parse().ok()?,
        })
    }
}

/// Which of a user's connections see an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Every device of the user.
    All,
    /// Only this connection.
    Only(String),
    /// Every device but this connection.
    Except(String),
}

impl Audience {
    /// Whether connection `conn` sees it.
    pub fn includes(&self, conn: &str) -> bool {
        match self {
            Audience::All => true,
            Audience::Only(c) => c == conn,
            Audience::Except(c) => c != conn,
        }
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// Its id.
    pub id: EventId,
    /// Who sees it.
    pub audience: Audience,
    /// The SSE event name (kept inline up to 24 bytes, as nearly all are).
    pub name: CompactString,
    /// One-line JSON, shared: a replay copies a pointer, not the event.
    pub data: Arc<str>,
    /// When it was appended (Unix ms).
    pub at: Millis,
}

/// Why a resume was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetReason {
    /// Not an id this log ever issued (garbage, or ahead of the log).
    UnknownId,
    /// From an earlier epoch of this user's log.
    StaleEpoch,
    /// Events after it have left the replay window.
    OutOfWindow,
}

impl ResetReason {
    /// The `reason` of the `reset` event.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::UnknownId => "unknown_id",
            ResetReason::StaleEpoch => "stale_epoch",
            ResetReason::OutOfWindow => "out_of_window",
        }
    }
}

/// The answer to "everything after X".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Exactly the events after X that this connection sees, oldest first.
    Events(Vec<LoggedEvent>),
    /// X cannot be resumed; live delivery continues after `newest`.
    Reset {
        /// Why.
        reason: ResetReason,
        /// The newest id of the log.
        newest: EventId,
    },
}

/// The replay window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Most events kept per user.
    pub max_events: usize,
    /// Oldest event kept, in ms.
    pub max_age_ms: u64,
    /// Most bytes kept per user ([`event_cost`] of each event): the oldest go first.
    pub max_bytes: usize,
}

impl Default for LogConfig {
    /// docs/PROTOCOL.md §3: 1000 events, 10 minutes; and 4 MiB.
    fn default() -> Self {
        LogConfig {
            max_events: 1000,
            max_age_ms: 10 * 60 * 1000,
            max_bytes: 4 << 20,
        }
    }
}

/// The replay rule shared by every backend: given the log's epoch, its newest seq,
/// the highest evicted seq and the retained entries, answer "everything after X".
pub fn replay_rule<'a>(
    epoch: u64,
    newest_seq: u64,
    evicted_upto: u64,
    retained: impl Iterator<Item = &'a LoggedEvent>,
    after: &str,
    conn: &str,
) -> Replay {
    let newest = EventId {
        epoch,
        seq: newest_seq,
    };
    let reset = |reason| Replay::Reset { reason, newest };
    let Some(x) = EventId::parse(after) else {
        return reset(ResetReason::UnknownId);
    };
    if x.epoch != epoch {
        return reset(ResetReason::StaleEpoch);
    }
    if x.seq > newest_seq {
        return reset(ResetReason::UnknownId);
    }
    if x.seq < evicted_upto {
        return reset(ResetReason::OutOfWindow);
    }
    Replay::Events(
        retained
            .filter(|e| e.id.seq > x.seq && e.audience.includes(conn))
            .cloned()
            .collect(),
    )
}

mod memory;

pub use memory::{MemoryLog, event_cost};
