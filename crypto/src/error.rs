//! The one error type of this crate.

/// Which `kem` field of the wire protocol a value belongs to (docs/PROTOCOL.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The caller's ML-KEM-768 encapsulation key (offer).
    Ek,
    /// The caller's commitment to its nonce (offer).
    Commit,
    /// The callee's ML-KEM-768 ciphertext (answer).
    Ct,
    /// The caller's revealed nonce `N_A` (caller's confirm).
    Nonce,
    /// A key-confirmation tag (either confirm).
    Tag,
}

impl Field {
    /// The field's name as it appears in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Ek => "ek",
            Field::Commit => "commit",
            Field::Ct => "ct",
            Field::Nonce => "nonce",
            Field::Tag => "tag",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which party's key-confirmation tag failed to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Party {
    /// The caller's tag, checked by the callee.
    Caller,
    /// The callee's tag, checked by the caller.
    Callee,
}

/// Why a receiver dropped an SFrame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// Not an SFrame (the header does not parse), or a data message without its type byte.
    #[error("malformed")]
    Malformed,
    /// A KID other than the one the peer sends on this path.
    #[error("unexpected key id")]
    WrongKeyId,
    /// A counter already accepted, or older than the replay window.
    #[error("replayed or too old")]
    Replayed,
    /// The AES-GCM tag does not verify (wrong key, or the frame was changed).
    #[error("does not authenticate")]
    Authentication,
}

/// Everything that can go wrong in the handshake or in decoding its messages.
///
/// None of the variants carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field is not standard, padded base64.
    #[error("`{0}` is not valid standard padded base64")]
    BadBase64(Field),
    /// A field decoded to the wrong number of bytes.
    #[error("`{field}` must be {expected} bytes, got {actual}")]
    BadLength {
        /// The field.
        field: Field,
        /// The length docs/PROTOCOL.md §4 requires.
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// The encapsulation key fails the FIPS 203 §7.2 modulus check.
    #[error("the encapsulation key fails the FIPS 203 §7.2 check")]
    InvalidEncapsulationKey,
    /// The revealed nonce does not open the caller's commitment.
    #[error("the caller's nonce does not match its commitment")]
    CommitmentMismatch,
    /// A key-confirmation tag does not verify.
    #[error("the {0:?} key-confirmation tag does not verify")]
    TagMismatch(Party),
    /// A handshake step was used out of order (for example twice).
    #[error("handshake step used out of order")]
    OutOfOrder,
    /// An SDP breaks the fingerprint rule (none, malformed, or two values for one hash
    /// function): the call ends with reason `fingerprint_mismatch`.
    #[error("fingerprint_mismatch: {0}")]
    BadFingerprint(&'static str),
    /// An SFrame was dropped by its receiver (docs/PROTOCOL.md §7); counted, never played.
    #[error("SFrame dropped: {0}")]
    FrameDropped(DropReason),
    /// A sender used every counter of its key (2^64 frames), or a frame is over
    /// AES-GCM's size limit; never in practice.
    #[error("SFrame encryption failed")]
    EncryptionFailed,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}
