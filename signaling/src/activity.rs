//! Conversations list, read markers, presence and call history (docs/PROTOCOL.md §9):
//! the request and response bodies, and the rules the shell applies with its chat store
//! (who may see whose presence, what a moved read marker fans out, how a finished call
//! reads from each side).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::chat::Conversation;
use crate::error::Error;
use crate::event::{Event, MessageRead, PresenceChanged};
use crate::ids::{Millis, check_user_id};
use crate::log::Audience;
use crate::output::{Output, deliver};
use crate::wire::{CallState, MAX_SHORT_TEXT, Message, check_text};

/// The most users one presence query may name.
pub const MAX_PRESENCE_USERS: usize = 100;

/// `POST /api/conversations/list` and `POST /api/calls/history`: one page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageRequest {
    /// Continue after this item (the id of the previous page's last item).
    #[serde(default)]
    pub before: Option<String>,
    /// How many, 1..=100 (default 50).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl PageRequest {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(b) = &self.before {
            check_text("before", b, MAX_SHORT_TEXT, false)?;
        }
        match self.limit {
            None | Some(1..=100) => Ok(()),
            Some(_) => Err(Error::invalid("limit", "1 to 100")),
        }
    }

    /// The effective limit: `limit`, or 50.
    pub fn limit(&self) -> usize {
        self.limit.map_or(50, |l| l as usize)
    }
}

/// One conversation of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation_id: String,
    /// Its title, if it has one.
    pub title: Option<String>,
    /// Members, creator first.
    pub members: Vec<String>,
    /// Anyone may join.
    pub open: bool,
    /// The newest message, if any.
    pub last_message: Option<Message>,
    /// The other members' messages after the caller's read marker.
    pub unread: u64,
}

impl ConversationSummary {
    /// The summary of `conv` with its newest message and unread count.
    pub fn of(conv: Conversation, last_message: Option<Message>, unread: u64) -> Self {
        ConversationSummary {
            conversation_id: conv.id,
            title: conv.title,
            members: conv.members,
            open: conv.open,
            last_message,
            unread,
        }
    }
}

/// `{conversations, has_more}`: most recent activity first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationsResponse {
    /// This page.
    pub conversations: Vec<ConversationSummary>,
    /// More pages follow.
    pub has_more: bool,
}

/// `POST /api/messages/read`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadRequest {
    /// The conversation.
    pub conversation_id: String,
    /// The newest message the caller has read.
    pub message_id: String,
}

impl ReadRequest {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        // Only an id as the store writes it: ids sort as text, so a bare "9" would read
        // as newer than every real one.
        crate::ids::parse_message_id("message_id", &self.message_id).map(drop)
    }
}

/// Checks a read marker (membership) before the store moves it.
pub fn read(conv: &Conversation, user: &str) -> Result<(), Error> {
    conv.check_member(user)
}

/// What a read marker that moved forward fans out: `message.read` to the other members.
pub fn read_moved(conv: &Conversation, user: &str, message_id: &str) -> Vec<Output> {
    let event = Event::MessageRead(MessageRead {
        conversation_id: conv.id.clone(),
        user_id: user.to_owned(),
        message_id: message_id.to_owned(),
    });
    conv.members
        .iter()
        .filter(|m| *m != user)
        .map(|m| deliver(m, Audience::All, event.clone()))
        .collect()
}

/// `POST /api/presence/query`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceRequest {
    /// At most [`MAX_PRESENCE_USERS`] user ids.
    pub users: Vec<String>,
}

impl PresenceRequest {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        if self.users.len() > MAX_PRESENCE_USERS {
            return Err(Error::invalid("users", "at most 100 users"));
        }
        self.users
            .iter()
            .try_for_each(|u| check_user_id("users", u))
    }
}

/// One user's presence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Presence {
    /// Has a connection (a stream open, or in its grace period).
    pub online: bool,
    /// How many connections.
    pub devices: u32,
}

/// `{presence: {user: {online, devices}}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceResponse {
    /// By user id.
    pub presence: BTreeMap<String, Presence>,
}

/// The answer to `me`'s query: each user's connection count from `devices`, shown only
/// for `me` and for users in `shared` (those who share a conversation with `me`); for
/// anyone else `{online: false, devices: 0}`, so strangers learn nothing.
pub fn visible_presence(
    me: &str,
    users: &[String],
    shared: &HashSet<String>,
    devices: impl Fn(&str) -> usize,
) -> PresenceResponse {
    let presence = users
        .iter()
        .map(|u| {
            let seen = u == me || shared.contains(u);
            let n = if seen { devices(u) } else { 0 };
            let p = Presence {
                online: n > 0,
                devices: u32::try_from(n).unwrap_or(u32::MAX),
            };
            (u.clone(), p)
        })
        .collect();
    PresenceResponse { presence }
}

/// `presence.changed` for each of `user`'s contacts (ephemeral: a client asks again
/// with a presence query whenever its stream opens).
pub fn presence_changed(user: &str, online: bool, contacts: &[String]) -> Vec<Output> {
    let event = Event::PresenceChanged(PresenceChanged {
        user_id: user.to_owned(),
        online,
    });
    contacts
        .iter()
        .map(|c| Output::Ephemeral {
            user: c.clone(),
            event: event.clone(),
        })
        .collect()
}

/// Which side of a call a history entry is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The user called.
    Outgoing,
    /// The user was called.
    Incoming,
}

impl Direction {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        }
    }

    /// From its snake_case name.
    pub fn parse(s: &str) -> Option<Self> {
        [Direction::Outgoing, Direction::Incoming]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A final state from its snake_case name (a stored history entry's `outcome`).
pub fn parse_outcome(s: &str) -> Option<CallState> {
    CallState::ALL
        .into_iter()
        .find(|c| c.is_final() && c.as_str() == s)
}

/// A call that reached a final state, for both parties' call history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The call.
    pub call_id: String,
    /// Who called.
    pub caller: String,
    /// Who was called.
    pub callee: String,
    /// The final state.
    pub outcome: CallState,
    /// When it was offered (Unix seconds).
    pub started_at: u64,
    /// When it was answered (Unix seconds), if it was.
    pub answered_at: Option<u64>,
    /// When it reached its final state (Unix seconds).
    pub ended_at: u64,
}

impl CallRecord {
    /// The record of a call offered at `started` (Unix ms), answered at `answered`, that
    /// reached `outcome` at `now`.
    pub fn new(
        call: (&str, &str, &str),
        outcome: CallState,
        (started, answered, now): (Millis, Option<Millis>, Millis),
    ) -> Self {
        let (call_id, caller, callee) = call;
        CallRecord {
            call_id: call_id.to_owned(),
            caller: caller.to_owned(),
            callee: callee.to_owned(),
            outcome,
            started_at: started / 1000,
            answered_at: answered.map(|a| a / 1000),
            ended_at: now / 1000,
        }
    }

    /// The two history entries: the caller's (outgoing) and the callee's (incoming),
    /// each with its owner.
    pub fn entries(&self) -> [(&str, CallHistoryEntry); 2] {
        let entry = |peer: &str, direction| CallHistoryEntry {
            call_id: self.call_id.clone(),
            peer: peer.to_owned(),
            direction,
            outcome: self.outcome,
            started_at: self.started_at,
            answered_at: self.answered_at,
            ended_at: self.ended_at,
        };
        [
            (&self.caller, entry(&self.callee, Direction::Outgoing)),
            (&self.callee, entry(&self.caller, Direction::Incoming)),
        ]
    }
}

/// One call of a user's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallHistoryEntry {
    /// The call.
    pub call_id: String,
    /// The other party.
    pub peer: String,
    /// `outgoing` or `incoming`.
    pub direction: Direction,
    /// `ended`, `declined`, `canceled` or `missed`.
    pub outcome: CallState,
    /// When it was offered (Unix seconds).
    pub started_at: u64,
    /// When it was answered (Unix seconds), or null.
    pub answered_at: Option<u64>,
    /// When it reached its final state (Unix seconds).
    pub ended_at: u64,
}

/// `{calls, has_more}`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallHistoryResponse {
    /// This page.
    pub calls: Vec<CallHistoryEntry>,
    /// More pages follow.
    pub has_more: bool,
}
