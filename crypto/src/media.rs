//! End-to-end encryption of a call's media frames and data-channel messages with the
//! handshake's keys: SFrame ([RFC 9605]) with the suite `AES_256_GCM_SHA512_128`
//! (0x0005), as `docs/PROTOCOL.md` §7 fixes it.
//!
//! | KID | sender | protects | base key |
//! |---|---|---|---|
//! | 0 | caller | media frames (all tracks) | `K("media/caller")` |
//! | 1 | caller | data-channel messages | `K("media/caller")` |
//! | 2 | callee | media frames (all tracks) | `K("media/callee")` |
//! | 3 | callee | data-channel messages | `K("media/callee")` |
//!
//! Key and salt per KID are RFC 9605 §4.4.2's, derived by the `sframe` crate (its
//! RustCrypto backend). The KIDs are fixed here: a sender is asked for by role
//! ([`CallKeys::media_sender`]), never by KID or key, so no caller can pick a wrong one.
//!
//! - **Counters** (RFC 9605 §4.3): one per KID, from 0, shared by every sender made from
//!   the same [`CallKeys`] (and its clones), so a sender recreated mid-call continues
//!   the count and no two frames of one call share a (KID, counter).
//! - **Replay** (RFC 9605 §9.3): a receiver accepts each counter once, within a window of
//!   [`REPLAY_WINDOW`] counters; the window moves only on frames that authenticate.
//! - **Zero-length frames** (RTP padding, probes) pass through untouched and are not
//!   counted as dropped.
//! - **Data messages**: the SFrame plaintext is one type byte (`0x01` UTF-8 text, `0x02`
//!   binary) and then the message.
//!
//! ```
//! # use pqcall_crypto::{CallKeys, Role};
//! # fn demo(alice: &CallKeys, bob: &CallKeys) -> Result<(), pqcall_crypto::Error> {
//! let sender = alice.media_sender(Role::Caller);
//! let mut receiver = bob.media_receiver(Role::Callee);
//! let wire = sender.encrypt(b"an Opus frame")?;
//! assert_eq!(receiver.decrypt(&wire)?, b"an Opus frame");
//! # Ok(()) }
//! ```
//!
//! [RFC 9605]: https://www.rfc-editor.org/rfc/rfc9605.html

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sframe::CipherSuite;
use sframe::error::SframeError;
use sframe::frame::validation::{ReplayAttackProtection, Tolerance};
use sframe::frame::{EncryptedFrameView, MediaFrameView, SingleUseCounter};
use sframe::key::{DecryptionKey, EncryptionKey};

use crate::error::{DropReason, Error};
use crate::keys::CallKeys;
use crate::secret::Secret32;

/// The SFrame cipher suite of protocol v1: `AES_256_GCM_SHA512_128` (0x0005).
pub const CIPHER_SUITE: CipherSuite = CipherSuite::AesGcm256Sha512;

/// How many counters behind the newest accepted one a frame may arrive (RFC 9605 §9.3):
/// about 5 s of 20 ms audio frames.
pub const REPLAY_WINDOW: usize = 256;

/// Which side of the call this endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The party that sent the offer.
    Caller,
    /// The party that answered.
    Callee,
}

impl Role {
    /// The other party.
    pub const fn peer(self) -> Role {
        match self {
            Role::Caller => Role::Callee,
            Role::Callee => Role::Caller,
        }
    }
}

/// What an SFrame protects; each (sender, path) pair has its own KID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Media,
    Data,
}

/// The KID of docs/PROTOCOL.md §7's table.
const fn kid(sender: Role, path: Path) -> u64 {
    match (sender, path) {
        (Role::Caller, Path::Media) => 0,
        (Role::Caller, Path::Data) => 1,
        (Role::Callee, Path::Media) => 2,
        (Role::Callee, Path::Data) => 3,
    }
}

/// The next counter of each KID, shared by every sender made from one [`CallKeys`].
pub(crate) type Counters = Arc<[AtomicU64; 4]>;

impl CallKeys {
    fn base_key(&self, sender: Role) -> &Secret32 {
        match sender {
            Role::Caller => &self.media_caller_to_callee,
            Role::Callee => &self.media_callee_to_caller,
        }
    }

    fn sender(&self, role: Role, path: Path) -> FrameSender {
        let kid = kid(role, path);
        FrameSender {
            key: derived(EncryptionKey::derive_from(
                CIPHER_SUITE,
                kid,
                self.base_key(role).expose(),
            )),
            counters: Arc::clone(&self.counters),
            kid,
        }
    }

    fn receiver(&self, role: Role, path: Path) -> FrameReceiver {
        let kid = kid(role.peer(), path);
        FrameReceiver {
            key: derived(DecryptionKey::derive_from(
                CIPHER_SUITE,
                kid,
                self.base_key(role.peer()).expose(),
            )),
            replay: ReplayAttackProtection::new(kid, Tolerance::new(REPLAY_WINDOW)),
            kid,
            received: 0,
            dropped: 0,
        }
    }

    /// Encrypts this side's media frames (all tracks share it and its counter).
    pub fn media_sender(&self, role: Role) -> FrameSender {
        self.sender(role, Path::Media)
    }

    /// Decrypts the peer's media frames; accepts only the peer's media KID.
    pub fn media_receiver(&self, role: Role) -> FrameReceiver {
        self.receiver(role, Path::Media)
    }

    /// Encrypts this side's data-channel messages.
    pub fn data_sender(&self, role: Role) -> DataSender {
        DataSender(self.sender(role, Path::Data))
    }

    /// Decrypts the peer's data-channel messages; accepts only the peer's data KID.
    pub fn data_receiver(&self, role: Role) -> DataReceiver {
        DataReceiver(self.receiver(role, Path::Data))
    }
}

/// An SFrame key derived for a KID from a 32-byte base key. Key derivation with a
/// supported suite and 32 bytes of key material cannot fail; if the crate ever says
/// otherwise, that is a bug to surface at once, not a frame to send in clear.
fn derived<K>(key: sframe::error::Result<K>) -> K {
    match key {
        Ok(key) => key,
        Err(e) => unreachable!("SFrame key derivation failed for suite 0x0005: {e}"),
    }
}

/// Encrypts the frames of one (sender, path): see the module docs.
pub struct FrameSender {
    key: EncryptionKey,
    counters: Counters,
    kid: u64,
}

impl std::fmt::Debug for FrameSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSender")
            .field("kid", &self.kid)
            .field("sent", &self.sent())
            .finish_non_exhaustive()
    }
}

impl FrameSender {
    /// `SFrame(frame)`: header, AES-GCM ciphertext and 16-byte tag, empty metadata. A
    /// zero-length frame comes back empty (it is passed through, not encrypted).
    pub fn encrypt(&self, frame: &[u8]) -> Result<Vec<u8>, Error> {
        if frame.is_empty() {
            return Ok(Vec::new());
        }
        let ctr = self.counters[self.kid as usize]
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(1))
            .map_err(|_| Error::EncryptionFailed)?;
        let mut counter = SingleUseCounter::new(ctr);
        let mut out = Vec::with_capacity(frame.len() + 32);
        MediaFrameView::try_new(&mut counter, frame)
            .and_then(|f| f.encrypt_into(&self.key, &mut out).map(|_| ()))
            .map_err(|_| Error::EncryptionFailed)?;
        Ok(out)
    }

    /// The KID this sender writes.
    pub fn kid(&self) -> u64 {
        self.kid
    }

    /// How many frames have been encrypted under this KID in this call (the next counter).
    pub fn sent(&self) -> u64 {
        self.counters[self.kid as usize].load(Ordering::Relaxed)
    }
}

/// Decrypts the peer's frames of one path, with the replay window; counts what it drops.
pub struct FrameReceiver {
    key: DecryptionKey,
    replay: ReplayAttackProtection,
    kid: u64,
    received: u64,
    dropped: u64,
}

impl std::fmt::Debug for FrameReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReceiver")
            .field("kid", &self.kid)
            .field("received", &self.received)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl FrameReceiver {
    /// The plaintext of one SFrame, or why it was dropped (and counted). A zero-length
    /// input comes back empty and counts as neither received nor dropped.
    pub fn decrypt(&mut self, frame: &[u8]) -> Result<Vec<u8>, Error> {
        if frame.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.open(frame);
        match out {
            Ok(_) => self.received += 1,
            Err(_) => self.dropped += 1,
        }
        out.map_err(Error::FrameDropped)
    }

    fn open(&mut self, frame: &[u8]) -> Result<Vec<u8>, DropReason> {
        let view = EncryptedFrameView::try_new(frame).map_err(|_| DropReason::Malformed)?;
        if view.header().key_id() != self.kid {
            return Err(DropReason::WrongKeyId);
        }
        let mut out = Vec::with_capacity(frame.len());
        let len = view
            .validated_decrypt_into(&self.key, &mut out, &mut self.replay)
            .map(|plain| plain.payload().len())
            .map_err(|e| match e {
                SframeError::FrameValidationFailed(_) => DropReason::Replayed,
                SframeError::InvalidBuffer(_) => DropReason::Malformed,
                _ => DropReason::Authentication,
            })?;
        // Empty metadata: the plaintext is the start of the buffer.
        out.truncate(len);
        Ok(out)
    }

    /// The KID this receiver accepts.
    pub fn kid(&self) -> u64 {
        self.kid
    }

    /// Frames that decrypted.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Frames dropped (malformed, other KID, replayed, or not authentic).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// One data-channel message, after the type byte of docs/PROTOCOL.md §7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataMessage {
    /// Type `0x01`: UTF-8 text.
    Text(String),
    /// Type `0x02`: bytes.
    Binary(Vec<u8>),
}

const TEXT: u8 = 0x01;
const BINARY: u8 = 0x02;

/// Encrypts data-channel messages (always sent as binary data-channel messages).
#[derive(Debug)]
pub struct DataSender(FrameSender);

impl DataSender {
    /// Encrypts a text message.
    pub fn text(&self, text: &str) -> Result<Vec<u8>, Error> {
        self.typed(TEXT, text.as_bytes())
    }

    /// Encrypts a binary message.
    pub fn binary(&self, bytes: &[u8]) -> Result<Vec<u8>, Error> {
        self.typed(BINARY, bytes)
    }

    fn typed(&self, ty: u8, body: &[u8]) -> Result<Vec<u8>, Error> {
        let mut plain = Vec::with_capacity(body.len() + 1);
        plain.push(ty);
        plain.extend_from_slice(body);
        self.0.encrypt(&plain)
    }

    /// Messages sent so far under this KID.
    pub fn sent(&self) -> u64 {
        self.0.sent()
    }
}

/// Decrypts the peer's data-channel messages.
#[derive(Debug)]
pub struct DataReceiver(FrameReceiver);

impl DataReceiver {
    /// The message, or why it was dropped (and counted).
    pub fn decrypt(&mut self, message: &[u8]) -> Result<DataMessage, Error> {
        if message.is_empty() {
            self.0.dropped += 1;
            return Err(Error::FrameDropped(DropReason::Malformed));
        }
        let mut plain = self.0.decrypt(message)?;
        let body = plain.split_off(1.min(plain.len()));
        let decoded = match plain.first().copied() {
            Some(TEXT) => String::from_utf8(body).ok().map(DataMessage::Text),
            Some(BINARY) => Some(DataMessage::Binary(body)),
            _ => None,
        };
        decoded.ok_or_else(|| {
            // Authentic, but not a message of §7: dropped, not received.
            self.0.received -= 1;
            self.0.dropped += 1;
            Error::FrameDropped(DropReason::Malformed)
        })
    }

    /// Messages that decrypted.
    pub fn received(&self) -> u64 {
        self.0.received
    }

    /// Messages dropped.
    pub fn dropped(&self) -> u64 {
        self.0.dropped
    }
}
