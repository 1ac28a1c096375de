//! Request and response bodies of every endpoint (docs/PROTOCOL.md §4), and their validation.
//!
//! [`parse_body`] turns bytes into a request, classifying failures as `invalid_json`,
//! `missing_field` or `invalid_field`; each request's `validate` then checks limits,
//! id forms and the base64 lengths of `kem` fields (`bad_length`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use pqcall_crypto::Field;

pub use crate::body::parse_body;
use crate::error::Error;
use crate::ids::check_user_id;
pub use crate::wire::{
    AnswerKemBody, CallState, ConfirmKemBody, IceCandidate, MAX_CANDIDATE, MAX_CANDIDATES,
    MAX_MEMBERS, MAX_MESSAGE_BODY, MAX_PUBLISH_USERS, MAX_SDP, MAX_SHORT_TEXT, Message,
    OfferKemBody,
};
use crate::wire::{check_kem, check_text};

/// `POST /api/calls/offer`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfferRequest {
    /// The callee's user id.
    pub to: String,
    /// The offer SDP.
    pub sdp: String,
    /// The handshake's first message.
    pub kem: OfferKemBody,
}

impl OfferRequest {
    /// Field checks (400 / 422).
    pub fn validate(&self) -> Result<(), Error> {
        check_user_id("to", &self.to)?;
        check_text("sdp", &self.sdp, MAX_SDP, false)?;
        if self.kem.suite != pqcall_crypto::SUITE {
            return Err(Error::invalid("kem.suite", "the only suite is ML-KEM-768"));
        }
        check_kem(Field::Ek, &self.kem.ek)?;
        check_kem(Field::Commit, &self.kem.commit)
    }
}

/// `{call_id, devices}`: the offer's result (a delivery receipt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfferResponse {
    /// The new call.
    pub call_id: String,
    /// How many of the callee's connections it rang on.
    pub devices: usize,
}

/// `POST /api/calls/answer`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerRequest {
    /// The call.
    pub call_id: String,
    /// The answer SDP.
    pub sdp: String,
    /// The handshake's second message.
    pub kem: AnswerKemBody,
}

impl AnswerRequest {
    /// Field checks (400 / 422).
    pub fn validate(&self) -> Result<(), Error> {
        check_text("sdp", &self.sdp, MAX_SDP, false)?;
        check_kem(Field::Ct, &self.kem.ct)
    }
}

/// `POST /api/calls/confirm`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmRequest {
    /// The call.
    pub call_id: String,
    /// `{nonce, tag}` (caller) or `{tag}` (callee).
    pub kem: ConfirmKemBody,
}

impl ConfirmRequest {
    /// Field checks (400 / 422). Whether `nonce` must be present depends on the
    /// sender's role, which the call state machine checks.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(n) = &self.kem.nonce {
            check_kem(Field::Nonce, n)?;
        }
        check_kem(Field::Tag, &self.kem.tag)
    }
}

/// One entry of `GET /api/ice-servers`, in the shape `RTCPeerConnection` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServer {
    /// `stun:` or `turn:`/`turns:` URLs.
    pub urls: Vec<String>,
    /// TURN: `<expires_at>:<user>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN: base64(HMAC-SHA1(secret, username)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `GET /api/ice-servers`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServersResponse {
    /// STUN, then TURN; empty when none is configured.
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials expire (Unix seconds): fetch again before.
    pub expires_at: u64,
}

/// What a `calls/update` carries: a new offer (ICE restart or renegotiation) or the
/// answer to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    /// A new offer.
    Offer,
    /// The answer to the other side's new offer.
    Answer,
}

/// `POST /api/calls/update`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateRequest {
    /// The call.
    pub call_id: String,
    /// The new SDP.
    pub sdp: String,
    /// `offer` or `answer`.
    pub kind: SdpKind,
}

impl UpdateRequest {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        check_text("sdp", &self.sdp, MAX_SDP, false)
    }
}

/// `POST /api/calls/ice`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceRequest {
    /// The call.
    pub call_id: String,
    /// Candidates, in trickle order; shared with the `call.ice` event that relays them.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<IceCandidate>))]
    #[serde(deserialize_with = "crate::wire::read_candidates")]
    pub candidates: Arc<[IceCandidate]>,
    /// No more candidates follow.
    #[serde(default)]
    pub done: Option<bool>,
}

impl IceRequest {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        if self.candidates.is_empty() && self.done != Some(true) {
            return Err(Error::invalid(
                "candidates",
                "may be empty only with done: true",
            ));
        }
        if self.candidates.len() > MAX_CANDIDATES {
            return Err(Error::invalid(
                "candidates",
                format!("at most {MAX_CANDIDATES} per request"),
            ));
        }
        self.candidates
            .iter()
            .enumerate()
            .try_for_each(|(i, c)| c.validate(i))
    }
}

/// `POST /api/calls/decline` and `POST /api/calls/end`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallIdReason {
    /// The call.
    pub call_id: String,
    /// Why (short text).
    #[serde(default)]
    pub reason: Option<String>,
}

impl CallIdReason {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(r) = &self.reason {
            check_text("reason", r, MAX_SHORT_TEXT, false)?;
        }
        Ok(())
    }
}

/// The result of answer, confirm, ice, decline and end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallStateResponse {
    /// The call.
    pub call_id: String,
    /// Its state after the request.
    pub state: CallState,
}

/// `POST /api/conversations/create`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateConversationRequest {
    /// Members besides the creator.
    pub members: Vec<String>,
    /// Optional title.
    #[serde(default)]
    pub title: Option<String>,
    /// Anyone may join.
    #[serde(default)]
    pub open: Option<bool>,
}

impl CreateConversationRequest {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        if self.members.len() > MAX_MEMBERS {
            return Err(Error::invalid("members", format!("at most {MAX_MEMBERS}")));
        }
        for (i, m) in self.members.iter().enumerate() {
            check_user_id(&format!("members[{i}]"), m)?;
        }
        if let Some(t) = &self.title {
            check_text("title", t, MAX_SHORT_TEXT, true)?;
        }
        Ok(())
    }
}

/// `{conversation_id}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationIdBody {
    /// The conversation.
    pub conversation_id: String,
}

/// `{conversation_id, members}`: the result of join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinResponse {
    /// The conversation.
    pub conversation_id: String,
    /// Its members after the join.
    pub members: Vec<String>,
}

/// `POST /api/messages/send`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendRequest {
    /// The conversation.
    pub conversation_id: String,
    /// Opaque text, at most 16 KiB.
    pub body: String,
    /// Idempotency key chosen by the client.
    pub client_msg_id: String,
}

impl SendRequest {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        check_text("body", &self.body, MAX_MESSAGE_BODY, false)?;
        check_text("client_msg_id", &self.client_msg_id, MAX_SHORT_TEXT, false)
    }
}

/// `{message}`: the result of send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendResponse {
    /// The stored message (the first one, for a retried send).
    pub message: Message,
}

/// `POST /api/messages/load`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadRequest {
    /// The conversation.
    pub conversation_id: String,
    /// Only messages older than this message id.
    #[serde(default)]
    pub before: Option<String>,
    /// How many, 1..=100 (default 50).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl LoadRequest {
    /// Field checks (400); returns the effective limit.
    pub fn validate(&self) -> Result<usize, Error> {
        if let Some(b) = &self.before {
            check_text("before", b, MAX_SHORT_TEXT, false)?;
        }
        match self.limit {
            None => Ok(50),
            Some(l @ 1..=100) => Ok(l as usize),
            Some(_) => Err(Error::invalid("limit", "1 to 100")),
        }
    }

    /// The effective limit of a validated request: `limit`, or 50.
    pub fn limit(&self) -> usize {
        self.limit.map_or(50, |l| l as usize)
    }
}

/// `{messages, has_more}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadResponse {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Older messages exist.
    pub has_more: bool,
}

/// `{conversation_id}`: the result of create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateConversationResponse {
    /// The new conversation.
    pub conversation_id: String,
}

/// `{user_id, expires_at, sse_ticket}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthenticateResponse {
    /// The token's subject.
    pub user_id: String,
    /// When the ticket expires (Unix seconds).
    pub expires_at: u64,
    /// Single-use ticket for `GET /api/events?ticket=`.
    pub sse_ticket: String,
}

/// `POST /api/server/publish`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishRequest {
    /// Recipients.
    pub users: Vec<String>,
    /// `app.<name>`.
    pub event: String,
    /// Any JSON object.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
}

impl PublishRequest {
    /// Field checks (400).
    pub fn validate(&self) -> Result<(), Error> {
        if self.users.is_empty() || self.users.len() > MAX_PUBLISH_USERS {
            return Err(Error::invalid(
                "users",
                format!("1 to {MAX_PUBLISH_USERS} users"),
            ));
        }
        for (i, u) in self.users.iter().enumerate() {
            check_user_id(&format!("users[{i}]"), u)?;
        }
        let name = self.event.strip_prefix("app.").unwrap_or_default();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(Error::invalid(
                "event",
                "must be `app.` followed by 1-64 of [A-Za-z0-9._-]",
            ));
        }
        if !self.data.is_object() {
            return Err(Error::invalid("data", "must be a JSON object"));
        }
        Ok(())
    }
}

/// `{delivered_to}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishResponse {
    /// How many users' logs received the event.
    pub delivered_to: usize,
}

/// `POST /api/dev/token` (development mode only)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevTokenRequest {
    /// The user to mint a token for.
    pub user: String,
}

/// `{token, expires_at}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevTokenResponse {
    /// A short-lived JWT.
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// `{"error": {...}}`, every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// snake_case code.
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// The existing call, for `glare`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

impl From<&Error> for ErrorBody {
    fn from(e: &Error) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: e.code().to_owned(),
                message: e.to_string(),
                call_id: match e {
                    Error::Glare { call_id } => Some(call_id.clone()),
                    _ => None,
                },
            },
        }
    }
}
