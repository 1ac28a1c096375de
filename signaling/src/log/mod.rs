//! The per-user event log (docs/PROTOCOL.md §3): ids `<epoch>-<seq>`, a replay window bounded
//! by count and age, and "everything after id X" or `reset`.
//!
//! [`EventLog`] is the interface the service uses; [`MemoryLog`] is the embedded one.
//! Another backend (Redis Streams) must pass [`conformance`] with the same semantics.

use std::fmt;

use crate::error::Error;
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
    /// The SSE event name.
    pub name: String,
    /// One-line JSON.
    pub data: String,
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
}

impl Default for LogConfig {
    /// docs/PROTOCOL.md §3: 1000 events, 10 minutes.
    fn default() -> Self {
        LogConfig {
            max_events: 1000,
            max_age_ms: 10 * 60 * 1000,
        }
    }
}

/// A per-user event log shared by every node that serves the user.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync {
    /// Appends an event to `user`'s log and returns it with its new id.
    async fn append(
        &self,
        user: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<LoggedEvent, Error>;

    /// Appends like [`append`](Self::append) unless `user`'s log already took an event
    /// under the same `key` within its age window; then it appends nothing and returns
    /// `None`. A retried request uses it to finish an interrupted fan-out exactly once.
    async fn append_once(
        &self,
        user: &str,
        key: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error>;

    /// Everything after `after` that connection `conn` sees, or a reset.
    async fn replay(
        &self,
        user: &str,
        after: &str,
        conn: &str,
        now: Millis,
    ) -> Result<Replay, Error>;

    /// The newest id of `user`'s log (`<epoch>-0` for an empty one).
    async fn newest(&self, user: &str) -> Result<EventId, Error>;
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

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
mod memory;

pub use memory::MemoryLog;
