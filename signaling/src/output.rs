//! What the core asks its shell to do: effects as values (the quinn-proto / str0m way).

use crate::activity::CallRecord;
use crate::event::Event;
use crate::ids::Millis;
use crate::log::Audience;

/// One effect for the shell to perform, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Append `event` to `user`'s log for `audience`, then push it to the live streams.
    Deliver {
        /// The recipient user.
        user: String,
        /// Which of the user's connections see it.
        audience: Audience,
        /// The event.
        event: Event,
    },
    /// Push `event` to every live stream of `user` without logging it (typing).
    Ephemeral {
        /// The recipient user.
        user: String,
        /// The event.
        event: Event,
    },
    /// Store a call that reached its final state in both parties' call history
    /// (docs/PROTOCOL.md §9).
    CallFinished(CallRecord),
    /// `user`'s first connection opened (`online`) or the last one's grace period ended:
    /// the shell tells the user's contacts with `presence.changed` (docs/PROTOCOL.md §9).
    Presence {
        /// Whose presence changed.
        user: String,
        /// Has a connection now.
        online: bool,
    },
    /// Call [`crate::Core::on_timer`] with `timer` at time `at` (Unix ms).
    Timer {
        /// When.
        at: Millis,
        /// What.
        timer: Timer,
    },
}

/// A timer the core scheduled. Stale timers are harmless: the core checks on firing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timer {
    /// A ringing call's ring timeout.
    RingTimeout(String),
    /// An answered call's handshake timeout (it must be `active` by then).
    HandshakeTimeout(String),
    /// A connection's grace period after its last stream closed.
    ConnGrace {
        /// Whose connection.
        user: String,
        /// The connection.
        conn: String,
        /// Its generation when the timer was set.
        generation: u64,
    },
    /// A typing indicator's expiry.
    TypingExpire {
        /// The conversation.
        conversation_id: String,
        /// Who was typing.
        user: String,
        /// The indicator's generation when the timer was set.
        generation: u64,
    },
    /// Forget a finished call (until then, requests about it get 409, not 404).
    ForgetCall(String),
}

pub(crate) fn deliver(user: &str, audience: Audience, event: Event) -> Output {
    Output::Deliver {
        user: user.to_owned(),
        audience,
        event,
    }
}
