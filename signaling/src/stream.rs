//! The start of an event stream (docs/PROTOCOL.md §3): what a stream sends before live
//! events, and which live events it then skips.
//!
//! The shell opens the stream's live queue first and then reads the log, so nothing
//! falls between the two; the newest replayed events may then also arrive live, and
//! [`Opening::is_new`] drops them by id.

use crate::Millis;
use crate::event::{Hello, Reset};
use crate::log::{EventId, LoggedEvent, Replay};

/// Where a stream starts, as the log answered.
#[derive(Debug)]
#[non_exhaustive]
pub enum Position {
    /// No position was given: the stream starts at the log's newest id.
    Fresh(EventId),
    /// A position was given (`Last-Event-ID` or `last_event_id`).
    Resumed {
        /// The given id, if it parses.
        last: Option<EventId>,
        /// The events after it, or a reset.
        replay: Replay,
    },
}

impl Position {
    /// Whether the stream gets the offers still ringing for its user again: every
    /// stream but one that resumes with events (those already hold them).
    pub fn resends_offers(&self) -> bool {
        !matches!(
            self,
            Position::Resumed {
                replay: Replay::Events(_),
                ..
            }
        )
    }
}

/// What a stream sends first: `hello` (with a `retry:` delay and, for a fresh stream,
/// the log's newest id), then a `reset` or the replayed events.
#[derive(Debug)]
pub struct Opening {
    /// The reconnection delay for the `retry:` field: 1 to 3 s, spread by the time of
    /// opening so that clients cut off together do not all come back together.
    pub retry_ms: u64,
    /// The `hello` event.
    pub hello: Hello,
    /// The id `hello` carries: the log's newest for a fresh stream, so that its first
    /// reconnect resumes from there and misses nothing.
    pub hello_id: Option<EventId>,
    /// A `reset` and its id (the log's newest), when the position cannot be resumed.
    pub reset: Option<(EventId, Reset)>,
    /// The events after the position, oldest first.
    pub replay: Vec<LoggedEvent>,
    /// The newest id already sent: live events up to it are skipped.
    pub after: Option<EventId>,
}

impl Opening {
    /// The opening of `user`'s stream on connection `conn` at `position`.
    pub fn new(user: &str, conn: &str, position: Position, now: Millis) -> Self {
        let mut opening = Opening {
            retry_ms: 1000 + now % 2000,
            hello: Hello {
                conn_id: conn.to_owned(),
                user_id: user.to_owned(),
                resumed: false,
            },
            hello_id: None,
            reset: None,
            replay: Vec::new(),
            after: None,
        };
        match position {
            Position::Fresh(newest) => {
                opening.hello_id = Some(newest);
                opening.after = Some(newest);
            }
            Position::Resumed {
                last,
                replay: Replay::Events(events),
            } => {
                opening.hello.resumed = true;
                opening.after = events.last().map(|e| e.id).or(last);
                opening.replay = events;
            }
            Position::Resumed {
                replay: Replay::Reset { reason, newest },
                ..
            } => {
                let reason = reason.as_str().to_owned();
                opening.reset = Some((newest, Reset { reason }));
                opening.after = Some(newest);
            }
        }
        opening
    }

    /// Whether a live event with `id` (none: ephemeral) is new to this stream.
    pub fn is_new(after: Option<EventId>, id: Option<EventId>) -> bool {
        match (id, after) {
            (Some(id), Some(a)) => id.epoch != a.epoch || id.seq > a.seq,
            _ => true,
        }
    }
}
