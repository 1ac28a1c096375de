//! Fixed-size secrets: zeroized on drop, redacted in `Debug`, compared in constant time.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// 32 secret bytes (a shared secret, a PRK, a tag before it is sent, a media key).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret32([u8; 32]);

impl Secret32 {
    pub(crate) fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes. Handle with care: copies you make are not zeroized.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time comparison with a received value.
    pub fn ct_eq_bytes(&self, other: &[u8; 32]) -> bool {
        self.0.ct_eq(other).into()
    }
}

impl std::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret32 {}
