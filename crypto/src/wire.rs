//! The `kem` fields of docs/PROTOCOL.md §4 on the wire: standard padded base64 with exact
//! lengths. The server validates offers with [`check`] without doing any cryptography.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Field};
use crate::secret::Secret32;

/// ML-KEM-768 encapsulation key length (FIPS 203 Table 3).
pub const EK_LEN: usize = 1184;
/// ML-KEM-768 ciphertext length (FIPS 203 Table 3).
pub const CT_LEN: usize = 1088;
/// Commitment length (a SHA3-256 output).
pub const COMMIT_LEN: usize = 32;
/// Caller nonce `N_A` length.
pub const NONCE_LEN: usize = 32;
/// Key-confirmation tag length (a SHA3-256 output).
pub const TAG_LEN: usize = 32;

/// The decoded length a field must have.
pub const fn expected_len(field: Field) -> usize {
    match field {
        Field::Ek => EK_LEN,
        Field::Ct => CT_LEN,
        Field::Commit => COMMIT_LEN,
        Field::Nonce => NONCE_LEN,
        Field::Tag => TAG_LEN,
    }
}

/// Encodes bytes as standard padded base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes a field and checks its exact length.
///
/// Rejects non-canonical input (missing padding, stray bits, URL-safe alphabet,
/// whitespace) with [`Error::BadBase64`], and the wrong size with [`Error::BadLength`].
pub fn decode(field: Field, s: &str) -> Result<Vec<u8>, Error> {
    let expected = expected_len(field);
    // Cheap pre-check: a canonical encoding of `expected` bytes has exactly this
    // many characters, so an oversized string is refused before decoding it.
    let encoded_len = expected.div_ceil(3) * 4;
    if s.len() > encoded_len + 4 {
        return Err(Error::BadLength {
            field,
            expected,
            actual: s.len() / 4 * 3,
        });
    }
    let bytes = STANDARD.decode(s).map_err(|_| Error::BadBase64(field))?;
    if bytes.len() != expected {
        return Err(Error::BadLength {
            field,
            expected,
            actual: bytes.len(),
        });
    }
    Ok(bytes)
}

/// Validates a field's encoding and length without decoding it (the server's check).
///
/// The fast path accepts exactly the strings [`decode`] accepts with the right length:
/// the canonical padded encoding of `expected_len(field)` bytes. Anything else takes
/// the slow path through [`decode`] for its precise error.
pub fn check(field: Field, s: &str) -> Result<(), Error> {
    if is_canonical_encoding_of(s.as_bytes(), expected_len(field)) {
        Ok(())
    } else {
        decode(field, s).map(drop)
    }
}

/// Symbol values of the standard alphabet; 0xff for every other byte.
const B64: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 64 {
        let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i];
        t[c as usize] = i as u8;
        i += 1;
    }
    t
};

fn b64_value(c: u8) -> u8 {
    B64[c as usize]
}

/// True when `s` is the standard, padded, canonical base64 of some `n` bytes.
fn is_canonical_encoding_of(s: &[u8], n: usize) -> bool {
    if s.len() != n.div_ceil(3) * 4 {
        return false;
    }
    let pad = (3 - n % 3) % 3;
    let body = s.len() - pad;
    // Branch-free range checks, so the compiler vectorizes the loop.
    let valid = s[..body].iter().fold(true, |acc, &c| {
        acc & ((c.wrapping_sub(b'A') < 26)
            | (c.wrapping_sub(b'a') < 26)
            | (c.wrapping_sub(b'0') < 10)
            | (c == b'+')
            | (c == b'/'))
    });
    if !valid || s[body..].iter().any(|&c| c != b'=') {
        return false;
    }
    // The unused low bits of the last symbol must be zero (canonical form).
    match (pad, s[..body].last()) {
        (0, _) => true,
        (1, Some(&c)) => b64_value(c) & 0b11 == 0,
        (2, Some(&c)) => b64_value(c) & 0b1111 == 0,
        _ => false,
    }
}

fn decode_array<const N: usize>(field: Field, s: &str) -> Result<[u8; N], Error> {
    let v = decode(field, s)?;
    let actual = v.len();
    v.try_into().map_err(|_| Error::BadLength {
        field,
        expected: N,
        actual,
    })
}

/// The caller's offer: `kem: {suite, ek, commit}`.
#[derive(Clone, PartialEq, Eq)]
pub struct OfferKem {
    pub(crate) ek: Box<[u8; EK_LEN]>,
    pub(crate) commit: [u8; COMMIT_LEN],
}

impl OfferKem {
    /// Parses the base64 fields of an offer.
    pub fn from_wire(ek: &str, commit: &str) -> Result<Self, Error> {
        Ok(Self {
            ek: Box::new(decode_array(Field::Ek, ek)?),
            commit: decode_array(Field::Commit, commit)?,
        })
    }
    /// The encapsulation key, base64.
    pub fn ek_b64(&self) -> String {
        encode(&self.ek[..])
    }
    /// The commitment, base64.
    pub fn commit_b64(&self) -> String {
        encode(&self.commit)
    }
    /// The encapsulation key bytes.
    pub fn ek(&self) -> &[u8; EK_LEN] {
        &self.ek
    }
    /// The commitment bytes.
    pub fn commit(&self) -> &[u8; COMMIT_LEN] {
        &self.commit
    }
}

impl std::fmt::Debug for OfferKem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferKem")
            .field("ek", &format_args!("[{EK_LEN} bytes]"))
            .field("commit", &format_args!("[{COMMIT_LEN} bytes]"))
            .finish()
    }
}

/// The callee's answer: `kem: {ct}`.
#[derive(Clone, PartialEq, Eq)]
pub struct AnswerKem {
    pub(crate) ct: Box<[u8; CT_LEN]>,
}

impl AnswerKem {
    /// Parses the base64 ciphertext of an answer.
    pub fn from_wire(ct: &str) -> Result<Self, Error> {
        Ok(Self {
            ct: Box::new(decode_array(Field::Ct, ct)?),
        })
    }
    /// The ciphertext, base64.
    pub fn ct_b64(&self) -> String {
        encode(&self.ct[..])
    }
    /// The ciphertext bytes.
    pub fn ct(&self) -> &[u8; CT_LEN] {
        &self.ct
    }
}

impl std::fmt::Debug for AnswerKem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerKem")
            .field("ct", &format_args!("[{CT_LEN} bytes]"))
            .finish()
    }
}

/// The caller's confirm: `kem: {nonce, tag}`. Both are secret until sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerConfirm {
    pub(crate) nonce: Secret32,
    pub(crate) tag: Secret32,
}

impl CallerConfirm {
    /// Parses the base64 fields of a caller's confirm.
    pub fn from_wire(nonce: &str, tag: &str) -> Result<Self, Error> {
        Ok(Self {
            nonce: Secret32::new(decode_array(Field::Nonce, nonce)?),
            tag: Secret32::new(decode_array(Field::Tag, tag)?),
        })
    }
    /// The nonce, base64 (reveals it: call only to send it).
    pub fn nonce_b64(&self) -> String {
        encode(self.nonce.expose())
    }
    /// The tag, base64 (call only to send it).
    pub fn tag_b64(&self) -> String {
        encode(self.tag.expose())
    }
}

/// The callee's confirm: `kem: {tag}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalleeConfirm {
    pub(crate) tag: Secret32,
}

impl CalleeConfirm {
    /// Parses the base64 tag of a callee's confirm.
    pub fn from_wire(tag: &str) -> Result<Self, Error> {
        Ok(Self {
            tag: Secret32::new(decode_array(Field::Tag, tag)?),
        })
    }
    /// The tag, base64 (call only to send it).
    pub fn tag_b64(&self) -> String {
        encode(self.tag.expose())
    }
}
