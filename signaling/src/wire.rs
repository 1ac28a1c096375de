//! Values shared by request bodies and events (docs/PROTOCOL.md §4): limits, the
//! handshake's `kem` bodies, ICE candidates, chat messages and call states. The bottom
//! of the crate: it uses nothing of it but errors.

use std::sync::Arc;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use pqcall_crypto::Field;
use pqcall_crypto::wire;

use crate::error::Error;

/// Largest message `body`, in bytes.
pub const MAX_MESSAGE_BODY: usize = 16 * 1024;
/// Largest SDP, in bytes.
pub const MAX_SDP: usize = 48 * 1024;
/// Most candidates in one `ice` request.
pub const MAX_CANDIDATES: usize = 64;
/// Largest candidate string, in bytes.
pub const MAX_CANDIDATE: usize = 1024;
/// Most members named when creating a conversation.
pub const MAX_MEMBERS: usize = 256;
/// Largest `client_msg_id`, title or reason, in bytes.
pub const MAX_SHORT_TEXT: usize = 256;
/// Most recipients of one publish.
pub const MAX_PUBLISH_USERS: usize = 1000;

pub(crate) fn check_text(field: &str, s: &str, max: usize, allow_empty: bool) -> Result<(), Error> {
    if !allow_empty && s.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(Error::invalid(field, format!("at most {max} bytes")));
    }
    Ok(())
}

pub(crate) fn check_kem(field: Field, s: &str) -> Result<(), Error> {
    wire::check(field, s).map_err(Error::from)
}

/// `kem` of an offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfferKemBody {
    /// Must be `"ML-KEM-768"`.
    pub suite: String,
    /// Base64 encapsulation key, 1184 bytes.
    pub ek: String,
    /// Base64 commitment, 32 bytes.
    pub commit: String,
}

/// `kem` of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerKemBody {
    /// Base64 ciphertext, 1088 bytes.
    pub ct: String,
}

/// `kem` of a confirm: the caller sends `nonce` and `tag`, the callee only `tag`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmKemBody {
    /// Base64 caller nonce, 32 bytes (caller only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Base64 tag, 32 bytes.
    pub tag: String,
}

/// An `RTCIceCandidateInit`. Its strings are [`CompactString`]s: up to 24 bytes (the
/// `sdpMid` and the ufrag, nearly always) are kept inline, so reading a batch of 20
/// candidates makes 20 allocations instead of 60 (`benches/allocations.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceCandidate {
    /// The `candidate:` attribute, or `""` for end-of-candidates.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub candidate: CompactString,
    /// The media stream id.
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub sdp_mid: Option<CompactString>,
    /// The m-line index.
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE ufrag.
    #[serde(
        rename = "usernameFragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub username_fragment: Option<CompactString>,
}

/// Reads a `candidates` array into one allocation sized for a batch, then the shared
/// slice: serde's own reading grows a `Vec` from empty (three reallocations for 20, and a
/// fourth to shrink it) before copying it. The array's length is checked later, with the
/// other fields (at most [`MAX_CANDIDATES`]): past one more than that, each candidate is
/// still read (a malformed one is reported as before) but not kept.
pub(crate) fn read_candidates<'de, D>(d: D) -> Result<Arc<[IceCandidate]>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Candidates;
    impl<'de> serde::de::Visitor<'de> for Candidates {
        type Value = Arc<[IceCandidate]>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let hint = seq.size_hint().unwrap_or(TYPICAL_CANDIDATES);
            let mut all = Vec::with_capacity(hint.min(MAX_CANDIDATES));
            while let Some(c) = seq.next_element()? {
                if all.len() <= MAX_CANDIDATES {
                    all.push(c);
                }
            }
            Ok(all.into())
        }
    }
    d.deserialize_seq(Candidates)
}

/// Room made for a batch's candidates before reading them (the relay anchor's batch in
/// BENCHMARKS.md holds 20).
const TYPICAL_CANDIDATES: usize = 24;

impl IceCandidate {
    pub(crate) fn validate(&self, i: usize) -> Result<(), Error> {
        // The field's name is made only for an error: this runs for every candidate.
        let fail = |reason: &str| Err(Error::invalid(&format!("candidates[{i}]"), reason));
        if self.candidate.len() > MAX_CANDIDATE {
            return fail("candidate too long");
        }
        if !self.candidate.is_empty() && !self.candidate.starts_with("candidate:") {
            return fail("a candidate starts with `candidate:`");
        }
        // memchr's vectorised search: a byte loop here was 9 % of the relay's
        // instructions (20 candidates in every batch).
        if memchr::memchr2(b'\r', b'\n', self.candidate.as_bytes()).is_some() {
            return fail("a candidate is one line");
        }
        if self.sdp_mid.is_none() && self.sdp_m_line_index.is_none() {
            return fail("sdpMid or sdpMLineIndex is required");
        }
        for s in [&self.sdp_mid, &self.username_fragment]
            .into_iter()
            .flatten()
        {
            if s.len() > MAX_SHORT_TEXT {
                return check_text(&format!("candidates[{i}]"), s, MAX_SHORT_TEXT, true);
            }
        }
        Ok(())
    }
}

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// Server-assigned, increasing within a conversation.
    pub id: String,
    /// The conversation.
    pub conversation_id: String,
    /// The sender.
    pub from: String,
    /// Opaque text (may be ciphertext).
    pub body: String,
    /// The sender's idempotency key.
    pub client_msg_id: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallState {
    /// Offered; the callee's devices ring.
    Ringing,
    /// Answered; the handshake's confirms are under way.
    Connecting,
    /// Both confirms relayed.
    Active,
    /// Hung up after it was answered.
    Ended,
    /// The callee declined.
    Declined,
    /// The caller hung up while it rang.
    Canceled,
    /// Nobody answered before the ring timeout.
    Missed,
}

impl CallState {
    /// No event follows a final state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CallState::Ended | CallState::Declined | CallState::Canceled | CallState::Missed
        )
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Connecting => "connecting",
            CallState::Active => "active",
            CallState::Ended => "ended",
            CallState::Declined => "declined",
            CallState::Canceled => "canceled",
            CallState::Missed => "missed",
        }
    }

    /// Every state, for metrics.
    pub const ALL: [CallState; 7] = [
        CallState::Ringing,
        CallState::Connecting,
        CallState::Active,
        CallState::Ended,
        CallState::Declined,
        CallState::Canceled,
        CallState::Missed,
    ];
}
