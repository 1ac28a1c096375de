//! The pqcall call handshake: an ML-KEM-768 ([FIPS 203]) key exchange relayed through
//! the signaling server, a SHA3-256 ([FIPS 202]) key schedule bound to both DTLS
//! fingerprints, per-direction media keys, a 6-digit safety code, and SFrame ([RFC 9605])
//! encryption of media frames and data-channel messages with those keys. The
//! specification is §6–§7 of `docs/PROTOCOL.md`; every module names the part it
//! implements.
//!
//! ```
//! use pqcall_crypto::{Callee, Caller, CallContext};
//!
//! // Caller: key pair and commitment, sent in the offer.
//! let (caller, offer) = Caller::start()?;
//! // Callee: checks ek, encapsulates; the ciphertext goes in the answer.
//! let (callee, answer) = Callee::answer(&offer)?;
//! // Both know the same public facts of the call once the answer is relayed.
//! let ctx = CallContext::from_sdp(
//!     "c0ffee", "alice", "bob",
//!     "v=0\r\na=fingerprint:sha-256 aa:bb\r\n",
//!     "v=0\r\na=fingerprint:sha-256 cc:dd\r\n",
//! )?;
//! // Caller: decapsulates, reveals its nonce and sends its tag.
//! let (caller, caller_confirm) = caller.finish(&answer, &ctx);
//! // Callee: checks the commitment and the caller's tag, sends its own.
//! let (bob_keys, callee_confirm) = callee.confirm(&caller_confirm, &ctx)?;
//! // Caller: checks the callee's tag.
//! let alice_keys = caller.verify(&callee_confirm)?;
//!
//! assert_eq!(alice_keys.safety_code, bob_keys.safety_code);
//! assert_eq!(alice_keys.media_caller_to_callee, bob_keys.media_caller_to_callee);
//! println!("compare this code: {}", alice_keys.safety_code); // e.g. "042 917"
//! # Ok::<(), pqcall_crypto::Error>(())
//! ```
//!
//! # What it protects against
//!
//! The server relays every message, so it could swap `ek` and `ct` and run one
//! handshake with each side. Both legs would complete, but each leg's transcript (and
//! so its safety code) differs: when the two people read their codes to each other,
//! a relay in the middle is caught with probability 1 − 10⁻⁶. The caller commits to
//! its nonce before the ciphertext exists and reveals it only afterwards, so a relay
//! cannot grind ciphertexts offline until the codes collide. Both DTLS fingerprints are
//! in the transcript, so matching codes also vouch for the DTLS-SRTP media path.
//! ML-KEM-768 keeps this true against an adversary with a quantum computer.
//!
//! # What it does not protect against
//!
//! A relay can still drop, delay or refuse calls, see who calls whom and when, and
//! read the SDP (addresses, codecs). Nothing is proven if the people do not compare
//! the codes. The media keys protect frames only where the application passes every
//! frame through [`media`]'s senders and receivers (the browser client and the native
//! example do).
//!
//! # Hygiene
//!
//! `dk` is dropped as soon as it has decapsulated; secrets live in [`Secret32`], which
//! zeroizes on drop, prints `<redacted>` in `Debug` and compares in constant time. The
//! SHA3-256 hashers of the key schedule, which absorb `ss` and `PRK`, wipe their state
//! when dropped (`sha3`'s `zeroize` feature).
//! Seeded key generation and encapsulation exist only behind the `hazmat` feature,
//! for test vectors.
//!
//! [FIPS 203]: https://csrc.nist.gov/pubs/fips/203/final
//! [FIPS 202]: https://csrc.nist.gov/pubs/fips/202/final
//! [RFC 9605]: https://www.rfc-editor.org/rfc/rfc9605.html
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

#[cfg(feature = "handshake")]
mod callee;
#[cfg(feature = "handshake")]
mod caller;
mod error;
pub mod fingerprint;
#[cfg(feature = "hazmat")]
pub mod hazmat;
#[cfg(feature = "handshake")]
mod keys;
#[cfg(feature = "handshake")]
pub mod media;
#[cfg(feature = "handshake")]
mod schedule;
mod secret;
#[cfg(feature = "handshake")]
mod state;
pub mod wire;

#[cfg(feature = "handshake")]
pub use callee::Callee;
#[cfg(feature = "handshake")]
pub use caller::{Caller, CallerAwaitingTag};
pub use error::{DropReason, Error, Field, Party};
#[cfg(feature = "handshake")]
pub use keys::{CallContext, CallKeys, SafetyCode};
#[cfg(feature = "handshake")]
pub use media::{DataMessage, DataReceiver, DataSender, FrameReceiver, FrameSender, Role};
pub use secret::Secret32;
#[cfg(feature = "handshake")]
pub use state::Handshake;
pub use wire::{AnswerKem, CalleeConfirm, CallerConfirm, OfferKem};

/// The only suite of protocol v1, as sent in `kem.suite`.
pub const SUITE: &str = "ML-KEM-768";
