//! The key schedule of docs/PROTOCOL.md §6: length-prefixed SHA3-256 (FIPS 202) hashing,
//! the commitment, the transcript hash `TH`, `PRK`, the labelled keys and the safety code.

use sha3::{Digest, Sha3_256};

use crate::secret::Secret32;

/// `enc(x)`: 4-byte big-endian length, then `x`, fed straight into the hash.
fn absorb(h: &mut Sha3_256, x: &[u8]) {
    // Every input is far below 4 GiB (the largest is an SDP-derived fingerprint or
    // a 1184-byte key); saturate rather than wrap for absurd inputs.
    let len = u32::try_from(x.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(x);
}

/// `H(enc(p0) || enc(p1) || ...)`.
pub(crate) fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha3_256::new();
    for p in parts {
        absorb(&mut h, p);
    }
    h.finalize().into()
}

/// `commit = H(enc("pqcall/v1/commit") || enc(N_A))`.
pub(crate) fn commitment(n_a: &[u8; 32]) -> [u8; 32] {
    hash(&[b"pqcall/v1/commit", n_a])
}

/// Everything the transcript hash binds, in docs/PROTOCOL.md §6 order.
pub(crate) struct Transcript<'a> {
    pub call_id: &'a str,
    pub caller_id: &'a str,
    pub callee_id: &'a str,
    pub ek: &'a [u8],
    pub commit: &'a [u8; 32],
    pub fp_a: &'a str,
    pub ct: &'a [u8],
    pub fp_b: &'a str,
    pub n_a: &'a [u8; 32],
}

impl<'a> Transcript<'a> {
    /// The transcript of a call: its public facts, the offer, the ciphertext, `N_A`.
    pub(crate) fn new(
        ctx: &'a crate::CallContext,
        offer: &'a crate::OfferKem,
        ct: &'a [u8],
        n_a: &'a [u8; 32],
    ) -> Self {
        Transcript {
            call_id: &ctx.call_id,
            caller_id: &ctx.caller_id,
            callee_id: &ctx.callee_id,
            ek: &offer.ek[..],
            commit: &offer.commit,
            fp_a: &ctx.offer_fingerprint,
            ct,
            fp_b: &ctx.answer_fingerprint,
            n_a,
        }
    }

    /// `TH`.
    pub(crate) fn hash(&self) -> [u8; 32] {
        hash(&[
            b"pqcall/v1/th",
            self.call_id.as_bytes(),
            self.caller_id.as_bytes(),
            self.callee_id.as_bytes(),
            crate::SUITE.as_bytes(),
            self.ek,
            self.commit,
            self.fp_a.as_bytes(),
            self.ct,
            self.fp_b.as_bytes(),
            self.n_a,
        ])
    }
}

/// `PRK` and the keys derived from it.
pub(crate) struct Schedule {
    prk: Secret32,
}

impl Schedule {
    /// `PRK = H(enc("pqcall/v1/prk") || enc(ss) || enc(TH))`.
    pub(crate) fn new(ss: &Secret32, th: &[u8; 32]) -> Self {
        Self {
            prk: Secret32::new(hash(&[b"pqcall/v1/prk", ss.expose(), th])),
        }
    }

    #[cfg(feature = "hazmat")]
    pub(crate) fn prk(&self) -> &Secret32 {
        &self.prk
    }

    /// `K(label) = H(enc("pqcall/v1/" + label) || enc(PRK))`.
    pub(crate) fn key(&self, label: &str) -> Secret32 {
        const PREFIX: &[u8] = b"pqcall/v1/";
        // enc("pqcall/v1/" + label), absorbed in two pieces instead of concatenated.
        let len = u32::try_from(PREFIX.len() + label.len()).unwrap_or(u32::MAX);
        let mut h = Sha3_256::new();
        h.update(len.to_be_bytes());
        h.update(PREFIX);
        h.update(label.as_bytes());
        absorb(&mut h, self.prk.expose());
        Secret32::new(h.finalize().into())
    }

    pub(crate) fn tag_caller(&self) -> Secret32 {
        self.key("tag/caller")
    }

    pub(crate) fn tag_callee(&self) -> Secret32 {
        self.key("tag/callee")
    }

    /// The call keys both sides end with.
    pub(crate) fn call_keys(&self) -> crate::CallKeys {
        let sas = self.key("sas");
        let b = sas.expose();
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) % 1_000_000;
        crate::CallKeys {
            media_caller_to_callee: self.key("media/caller"),
            media_callee_to_caller: self.key("media/callee"),
            safety_code: crate::SafetyCode(n),
            counters: Default::default(),
        }
    }
}
