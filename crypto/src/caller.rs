//! The caller's side of the handshake (docs/PROTOCOL.md §6 steps 1, 3 and the final check).
//!
//! [`Caller::start`] → send the offer → [`Caller::finish`] with the answer → send the
//! confirm → [`CallerAwaitingTag::verify`] with the callee's confirm. Each step consumes
//! the previous state, so none can run twice or out of order.

use ml_kem::kem::Decapsulate;
use ml_kem::{Ciphertext, DecapsulationKey, KeyExport, MlKem768, Seed};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{Error, Party};
use crate::keys::{CallContext, CallKeys};
use crate::schedule::{Schedule, Transcript, commitment};
use crate::secret::Secret32;
use crate::wire::{AnswerKem, CalleeConfirm, CallerConfirm, EK_LEN, OfferKem};

/// A caller that has sent its offer and waits for the answer. Holds `dk` and `N_A`.
pub struct Caller {
    dk: DecapsulationKey<MlKem768>,
    n_a: Secret32,
    offer: OfferKem,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").finish_non_exhaustive()
    }
}

impl Caller {
    /// Step 1 with the operating system's randomness.
    pub fn start() -> Result<(Caller, OfferKem), Error> {
        // One system call for the key-generation seed and N_A.
        let mut buf = Zeroizing::new([0u8; 96]);
        getrandom::fill(&mut buf[..]).map_err(|_| Error::Rng)?;
        let mut seed = Zeroizing::new([0u8; 64]);
        let mut n_a = [0u8; 32];
        seed.copy_from_slice(&buf[..64]);
        n_a.copy_from_slice(&buf[64..]);
        Ok(Self::from_seed(&seed, Secret32::new(n_a)))
    }

    /// Step 1 with a caller-supplied cryptographic RNG.
    pub fn start_with_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> (Caller, OfferKem) {
        let mut seed = Zeroizing::new([0u8; 64]);
        let mut n_a = [0u8; 32];
        rng.fill_bytes(&mut seed[..]);
        rng.fill_bytes(&mut n_a);
        Self::from_seed(&seed, Secret32::new(n_a))
    }

    /// `(ek, dk) = KeyGen(seed)`, `commit = H(enc("pqcall/v1/commit") || enc(N_A))`.
    pub(crate) fn from_seed(seed: &[u8; 64], n_a: Secret32) -> (Caller, OfferKem) {
        let seed = Seed::from(*seed);
        let dk = DecapsulationKey::<MlKem768>::from_seed(seed);
        let ek_arr = dk.encapsulation_key().to_bytes();
        let mut ek = Box::new([0u8; EK_LEN]);
        ek.copy_from_slice(&ek_arr);
        let offer = OfferKem {
            ek,
            commit: commitment(n_a.expose()),
        };
        (
            Caller {
                dk,
                n_a,
                offer: offer.clone(),
            },
            offer,
        )
    }

    /// Step 3: decapsulates the answer (dropping `dk` right after), derives the keys
    /// and returns the confirm to send (`N_A` and `tag_caller`).
    ///
    /// ML-KEM decapsulation never fails (implicit rejection): a tampered ciphertext
    /// gives a different secret, which the callee's tag check then exposes.
    pub fn finish(
        self,
        answer: &AnswerKem,
        ctx: &CallContext,
    ) -> (CallerAwaitingTag, CallerConfirm) {
        let Caller { dk, n_a, offer } = self;
        let ct = Ciphertext::<MlKem768>::from(*answer.ct);
        let ss = Secret32::new(dk.decapsulate(&ct).into());
        drop(dk);
        let th = Transcript::new(ctx, &offer, &answer.ct[..], n_a.expose()).hash();
        let schedule = Schedule::new(&ss, &th);
        let confirm = CallerConfirm {
            nonce: n_a,
            tag: schedule.tag_caller(),
        };
        (
            CallerAwaitingTag {
                expected: schedule.tag_callee(),
                keys: schedule.call_keys(),
            },
            confirm,
        )
    }
}

/// A caller that has sent its confirm and waits for the callee's tag.
pub struct CallerAwaitingTag {
    expected: Secret32,
    keys: CallKeys,
}

impl std::fmt::Debug for CallerAwaitingTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerAwaitingTag").finish_non_exhaustive()
    }
}

impl CallerAwaitingTag {
    /// The final check: the callee's tag, in constant time. On success the call keys.
    pub fn verify(self, confirm: &CalleeConfirm) -> Result<CallKeys, Error> {
        if self.expected == confirm.tag {
            Ok(self.keys)
        } else {
            Err(Error::TagMismatch(Party::Callee))
        }
    }
}
