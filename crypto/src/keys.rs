//! What both sides end with: the per-direction media keys and the safety code.

use crate::secret::Secret32;

/// The keys of one call, equal on both sides after a successful handshake.
///
/// The SFrame senders and receivers of docs/PROTOCOL.md §7 come from here
/// ([`CallKeys::media_sender`] and its siblings, in [`crate::media`]); clones share the
/// SFrame counters, so no two frames of a call ever share a (KID, counter).
#[derive(Debug, Clone)]
pub struct CallKeys {
    /// `K("media/caller")`: protects media from the caller to the callee.
    pub media_caller_to_callee: Secret32,
    /// `K("media/callee")`: protects media from the callee to the caller.
    pub media_callee_to_caller: Secret32,
    /// The 6-digit code both people compare.
    pub safety_code: SafetyCode,
    /// The next SFrame counter of each KID.
    pub(crate) counters: crate::media::Counters,
}

impl PartialEq for CallKeys {
    /// The keys and the code; the counters are state, not key material.
    fn eq(&self, other: &Self) -> bool {
        self.media_caller_to_callee == other.media_caller_to_callee
            && self.media_callee_to_caller == other.media_callee_to_caller
            && self.safety_code == other.safety_code
    }
}

impl Eq for CallKeys {}

/// The 6-digit safety code (SAS): first 4 bytes of `K("sas")`, big-endian, mod 10^6.
///
/// Displays as `"123 456"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SafetyCode(pub(crate) u32);

impl SafetyCode {
    /// The code as a number below 1,000,000.
    pub fn value(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for SafetyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:03} {:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// The public facts of one call that the transcript binds (docs/PROTOCOL.md §6).
///
/// The caller learns `call_id` from the offer's response and the answer's fingerprint
/// from the answer, so both sides build this only when they need it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallContext {
    /// The server-assigned call id.
    pub call_id: String,
    /// The caller's user id.
    pub caller_id: String,
    /// The callee's user id.
    pub callee_id: String,
    /// `fp_A`: the bound DTLS fingerprints of the offer's SDP.
    pub offer_fingerprint: String,
    /// `fp_B`: the bound DTLS fingerprints of the answer's SDP.
    pub answer_fingerprint: String,
}

impl CallContext {
    /// Builds a context from the two SDPs, binding their fingerprints.
    ///
    /// Fails with [`Error::BadFingerprint`](crate::Error::BadFingerprint) when either SDP
    /// breaks the fingerprint rule of [`crate::fingerprint`]: the call then ends with
    /// reason `fingerprint_mismatch`.
    pub fn from_sdp(
        call_id: &str,
        caller_id: &str,
        callee_id: &str,
        offer_sdp: &str,
        answer_sdp: &str,
    ) -> Result<Self, crate::Error> {
        Ok(Self {
            call_id: call_id.to_owned(),
            caller_id: caller_id.to_owned(),
            callee_id: callee_id.to_owned(),
            offer_fingerprint: crate::fingerprint::from_sdp(offer_sdp)?,
            answer_fingerprint: crate::fingerprint::from_sdp(answer_sdp)?,
        })
    }
}
