//! Every event of the stream (docs/PROTOCOL.md §3–§4), typed, with its wire name.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::{AnswerKemBody, ConfirmKemBody, IceCandidate, Message, OfferKemBody};

/// `call.offer`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallOffer {
    /// The call.
    pub call_id: String,
    /// The caller's user id.
    pub from: String,
    /// The offer SDP.
    pub sdp: String,
    /// `{suite, ek, commit}`.
    pub kem: OfferKemBody,
    /// When the call stops ringing (Unix seconds).
    pub expires_at: u64,
}

/// `call.answer`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallAnswer {
    /// The call.
    pub call_id: String,
    /// The answer SDP.
    pub sdp: String,
    /// `{ct}`.
    pub kem: AnswerKemBody,
}

/// `call.confirm`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallConfirm {
    /// The call.
    pub call_id: String,
    /// `{nonce, tag}` from the caller, `{tag}` from the callee.
    pub kem: ConfirmKemBody,
}

/// `call.ice`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallIce {
    /// The call.
    pub call_id: String,
    /// Trickled candidates, in the order sent (shared with the request's).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<IceCandidate>))]
    #[serde(deserialize_with = "crate::wire::read_candidates")]
    pub candidates: Arc<[IceCandidate]>,
    /// The sender has no more candidates.
    pub done: bool,
}

/// `call.update`: the other side's new offer (ICE restart, renegotiation) or its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallUpdate {
    /// The call.
    pub call_id: String,
    /// The new SDP.
    pub sdp: String,
    /// `offer` or `answer`.
    pub kind: crate::api::SdpKind,
}

/// An event that names only the call and, maybe, a reason
/// (`call.answered_elsewhere`, `call.declined`, `call.ended`, `call.missed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallNotice {
    /// The call.
    pub call_id: String,
    /// Why, where the event has a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `conversation.created`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationCreated {
    /// The conversation.
    pub conversation_id: String,
    /// Its title, if any.
    #[serde(default)]
    pub title: Option<String>,
    /// Anyone may join.
    pub open: bool,
    /// Members, creator first.
    pub members: Vec<String>,
    /// The creator.
    pub created_by: String,
}

/// `conversation.member_joined`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberJoined {
    /// The conversation.
    pub conversation_id: String,
    /// Who joined.
    pub user_id: String,
}

/// `message.new`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageNew {
    /// The conversation.
    pub conversation_id: String,
    /// The stored message, shared by every member's copy of the event.
    #[cfg_attr(feature = "openapi", schema(value_type = Message))]
    pub message: Arc<Message>,
}

/// `typing` (ephemeral: never stored, never replayed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Typing {
    /// The conversation.
    pub conversation_id: String,
    /// Who is typing.
    pub user_id: String,
    /// Started (true) or stopped (false).
    pub active: bool,
}

/// `message.read`: a member's read marker moved forward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageRead {
    /// The conversation.
    pub conversation_id: String,
    /// Whose marker.
    pub user_id: String,
    /// The newest message they have read.
    pub message_id: String,
}

/// `presence.changed` (ephemeral): a contact came online or went offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceChanged {
    /// Whose presence.
    pub user_id: String,
    /// Has a connection now.
    pub online: bool,
}

/// `hello`, the first event of every stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hello {
    /// This device's connection id; send it as `X-Pqcall-Conn`.
    pub conn_id: String,
    /// The authenticated user.
    pub user_id: String,
    /// True when the given last event id was found and everything after it follows.
    pub resumed: bool,
}

/// `reset`: the last event id could not be resumed; reload state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reset {
    /// `unknown_id`, `stale_epoch` or `out_of_window`.
    pub reason: String,
}

/// `auth.expired`: the token the stream was opened with has expired; the stream ends
/// after this event. Reconnect with a fresh token (a new ticket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthExpired {
    /// When the token expired (Unix seconds).
    pub expires_at: u64,
}

/// One event of a user's stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `call.offer`
    CallOffer(CallOffer),
    /// `call.answer`
    CallAnswer(CallAnswer),
    /// `call.answered_elsewhere`
    CallAnsweredElsewhere(CallNotice),
    /// `call.confirm`
    CallConfirm(CallConfirm),
    /// `call.ice`
    CallIce(CallIce),
    /// `call.update`
    CallUpdate(CallUpdate),
    /// `call.declined`
    CallDeclined(CallNotice),
    /// `call.ended`
    CallEnded(CallNotice),
    /// `call.missed`
    CallMissed(CallNotice),
    /// `conversation.created`
    ConversationCreated(ConversationCreated),
    /// `conversation.member_joined`
    MemberJoined(MemberJoined),
    /// `message.new`
    MessageNew(MessageNew),
    /// `typing`
    Typing(Typing),
    /// `message.read`
    MessageRead(MessageRead),
    /// `presence.changed`
    PresenceChanged(PresenceChanged),
    /// `hello`: the first event of every stream (never logged).
    Hello(Hello),
    /// `reset`: the stream's position could not be resumed (never logged).
    Reset(Reset),
    /// `auth.expired`: the stream's token expired; the stream ends (never logged).
    AuthExpired(AuthExpired),
    /// `app.<name>`, published by the embedding application.
    App {
        /// The full event name, starting with `app.`.
        name: String,
        /// Application-defined JSON.
        data: Value,
    },
}

impl Event {
    /// The SSE `event:` name.
    pub fn name(&self) -> &str {
        match self {
            Event::CallOffer(_) => "call.offer",
            Event::CallAnswer(_) => "call.answer",
            Event::CallAnsweredElsewhere(_) => "call.answered_elsewhere",
            Event::CallConfirm(_) => "call.confirm",
            Event::CallIce(_) => "call.ice",
            Event::CallUpdate(_) => "call.update",
            Event::CallDeclined(_) => "call.declined",
            Event::CallEnded(_) => "call.ended",
            Event::CallMissed(_) => "call.missed",
            Event::ConversationCreated(_) => "conversation.created",
            Event::MemberJoined(_) => "conversation.member_joined",
            Event::MessageNew(_) => "message.new",
            Event::Typing(_) => "typing",
            Event::MessageRead(_) => "message.read",
            Event::PresenceChanged(_) => "presence.changed",
            Event::Hello(_) => "hello",
            Event::Reset(_) => "reset",
            Event::AuthExpired(_) => "auth.expired",
            Event::App { name, .. } => name,
        }
    }

    /// The call this event belongs to, for call events.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            Event::CallOffer(e) => Some(&e.call_id),
            Event::CallAnswer(e) => Some(&e.call_id),
            Event::CallConfirm(e) => Some(&e.call_id),
            Event::CallIce(e) => Some(&e.call_id),
            Event::CallUpdate(e) => Some(&e.call_id),
            Event::CallAnsweredElsewhere(e)
            | Event::CallDeclined(e)
            | Event::CallEnded(e)
            | Event::CallMissed(e) => Some(&e.call_id),
            _ => None,
        }
    }

    /// The `data:` line: one-line JSON.
    pub fn data_json(&self) -> String {
        let r = match self {
            Event::CallOffer(e) => serde_json::to_string(e),
            Event::CallAnswer(e) => serde_json::to_string(e),
            Event::CallConfirm(e) => serde_json::to_string(e),
            // The relay's most frequent event, written without serde (ice_json.rs).
            Event::CallIce(e) => return crate::ice_json::call_ice(e),
            Event::CallUpdate(e) => serde_json::to_string(e),
            Event::CallAnsweredElsewhere(e)
            | Event::CallDeclined(e)
            | Event::CallEnded(e)
            | Event::CallMissed(e) => serde_json::to_string(e),
            Event::ConversationCreated(e) => serde_json::to_string(e),
            Event::MemberJoined(e) => serde_json::to_string(e),
            Event::MessageNew(e) => serde_json::to_string(e),
            Event::Typing(e) => serde_json::to_string(e),
            Event::MessageRead(e) => serde_json::to_string(e),
            Event::PresenceChanged(e) => serde_json::to_string(e),
            Event::Hello(e) => serde_json::to_string(e),
            Event::Reset(e) => serde_json::to_string(e),
            Event::AuthExpired(e) => serde_json::to_string(e),
            Event::App { data, .. } => serde_json::to_string(data),
        };
        // These types serialize infallibly (string keys, no non-finite floats).
        r.unwrap_or_else(|_| "{}".to_owned())
    }

    /// Parses an event from its wire name and data (for clients).
    pub fn parse(name: &str, data: &str) -> Result<Event, serde_json::Error> {
        Ok(match name {
            "call.offer" => Event::CallOffer(serde_json::from_str(data)?),
            "call.answer" => Event::CallAnswer(serde_json::from_str(data)?),
            "call.answered_elsewhere" => Event::CallAnsweredElsewhere(serde_json::from_str(data)?),
            "call.confirm" => Event::CallConfirm(serde_json::from_str(data)?),
            "call.ice" => Event::CallIce(serde_json::from_str(data)?),
            "call.update" => Event::CallUpdate(serde_json::from_str(data)?),
            "call.declined" => Event::CallDeclined(serde_json::from_str(data)?),
            "call.ended" => Event::CallEnded(serde_json::from_str(data)?),
            "call.missed" => Event::CallMissed(serde_json::from_str(data)?),
            "conversation.created" => Event::ConversationCreated(serde_json::from_str(data)?),
            "conversation.member_joined" => Event::MemberJoined(serde_json::from_str(data)?),
            "message.new" => Event::MessageNew(serde_json::from_str(data)?),
            "typing" => Event::Typing(serde_json::from_str(data)?),
            "message.read" => Event::MessageRead(serde_json::from_str(data)?),
            "presence.changed" => Event::PresenceChanged(serde_json::from_str(data)?),
            "hello" => Event::Hello(serde_json::from_str(data)?),
            "reset" => Event::Reset(serde_json::from_str(data)?),
            "auth.expired" => Event::AuthExpired(serde_json::from_str(data)?),
            other => Event::App {
                name: other.to_owned(),
                data: serde_json::from_str(data)?,
            },
        })
    }
}
