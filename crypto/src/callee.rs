//! The callee's side of the handshake (docs/PROTOCOL.md §6 steps 2 and 4).
//!
//! [`Callee::answer`] with the offer → send the answer → [`Callee::confirm`] with the
//! caller's confirm → send the callee's confirm.

use ml_kem::{B32, EncapsulationKey, Key, MlKem768};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use crate::error::{Error, Party};
use crate::keys::{CallContext, CallKeys};
use crate::schedule::{Schedule, Transcript, commitment};
use crate::secret::Secret32;
use crate::wire::{AnswerKem, CT_LEN, CalleeConfirm, CallerConfirm, OfferKem};

/// A callee that has answered and waits for the caller's confirm. Holds `ss`.
pub struct Callee {
    offer: OfferKem,
    ct: Box<[u8; CT_LEN]>,
    ss: Secret32,
}

impl std::fmt::Debug for Callee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callee").finish_non_exhaustive()
    }
}

impl Callee {
    /// Step 2 with the operating system's randomness.
    pub fn answer(offer: &OfferKem) -> Result<(Callee, AnswerKem), Error> {
        let mut m = [0u8; 32];
        getrandom::fill(&mut m).map_err(|_| Error::Rng)?;
        let out = Self::answer_with_message(offer, &m);
        zeroize::Zeroize::zeroize(&mut m);
        out
    }

    /// Step 2 with a caller-supplied cryptographic RNG.
    pub fn answer_with_rng<R: CryptoRng + ?Sized>(
        offer: &OfferKem,
        rng: &mut R,
    ) -> Result<(Callee, AnswerKem), Error> {
        let mut m = [0u8; 32];
        rng.fill_bytes(&mut m);
        let out = Self::answer_with_message(offer, &m);
        zeroize::Zeroize::zeroize(&mut m);
        out
    }

    /// Checks `ek` (FIPS 203 §7.2) and encapsulates with the message `m`.
    pub(crate) fn answer_with_message(
        offer: &OfferKem,
        m: &[u8; 32],
    ) -> Result<(Callee, AnswerKem), Error> {
        let key = Key::<EncapsulationKey<MlKem768>>::from(*offer.ek);
        let ek =
            EncapsulationKey::<MlKem768>::new(&key).map_err(|_| Error::InvalidEncapsulationKey)?;
        let (ct_arr, ss) = ek.encapsulate_deterministic(&B32::from(*m));
        let mut ct = Box::new([0u8; CT_LEN]);
        ct.copy_from_slice(&ct_arr);
        let answer = AnswerKem { ct: ct.clone() };
        Ok((
            Callee {
                offer: offer.clone(),
                ct,
                ss: Secret32::new(ss.into()),
            },
            answer,
        ))
    }

    /// Step 4: checks the caller's nonce against its commitment and the caller's tag
    /// (both in constant time), then returns the call keys and the confirm to send.
    ///
    /// On error the caller of this function ends the call with reason
    /// `key_confirmation_failed`.
    pub fn confirm(
        self,
        confirm: &CallerConfirm,
        ctx: &CallContext,
    ) -> Result<(CallKeys, CalleeConfirm), Error> {
        let n_a = confirm.nonce.expose();
        if !bool::from(commitment(n_a).ct_eq(&self.offer.commit)) {
            return Err(Error::CommitmentMismatch);
        }
        let th = Transcript::new(ctx, &self.offer, &self.ct[..], n_a).hash();
        let schedule = Schedule::new(&self.ss, &th);
        if schedule.tag_caller() != confirm.tag {
            return Err(Error::TagMismatch(Party::Caller));
        }
        Ok((
            schedule.call_keys(),
            CalleeConfirm {
                tag: schedule.tag_callee(),
            },
        ))
    }

    #[cfg(feature = "hazmat")]
    pub(crate) fn shared_secret(&self) -> &Secret32 {
        &self.ss
    }
}
