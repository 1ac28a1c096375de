//! Seeded handshake steps and raw intermediates, for test vectors only.
//!
//! Compiled only with the `hazmat` feature, which only this crate's tests, benches and
//! the vector generator enable. Reusing a seed or a message breaks the handshake's
//! security completely.

use crate::callee::Callee;
use crate::caller::Caller;
use crate::error::Error;
use crate::keys::CallContext;
use crate::schedule::{Schedule, Transcript};
use crate::secret::Secret32;
use crate::wire::{AnswerKem, OfferKem};

/// Step 1 from a fixed 64-byte key-generation seed `d || z` and a fixed `N_A`.
pub fn caller_start_seeded(seed: &[u8; 64], n_a: [u8; 32]) -> (Caller, OfferKem) {
    Caller::from_seed(seed, Secret32::new(n_a))
}

/// Step 2 with a fixed 32-byte encapsulation message `m`.
pub fn callee_answer_seeded(offer: &OfferKem, m: &[u8; 32]) -> Result<(Callee, AnswerKem), Error> {
    Callee::answer_with_message(offer, m)
}

/// The callee's shared secret `ss`.
pub fn callee_shared_secret(callee: &Callee) -> [u8; 32] {
    *callee.shared_secret().expose()
}

/// `TH` and `PRK` for a shared secret and a transcript.
pub fn transcript_and_prk(
    ss: &[u8; 32],
    ctx: &CallContext,
    offer: &OfferKem,
    answer: &AnswerKem,
    n_a: &[u8; 32],
) -> ([u8; 32], [u8; 32]) {
    let th = Transcript::new(ctx, offer, &answer.ct[..], n_a).hash();
    let schedule = Schedule::new(&Secret32::new(*ss), &th);
    (th, *schedule.prk().expose())
}

/// Call keys from raw media keys (code 0), to replay SFrame vectors without a handshake.
pub fn call_keys(media_caller: [u8; 32], media_callee: [u8; 32]) -> crate::CallKeys {
    crate::CallKeys {
        media_caller_to_callee: Secret32::new(media_caller),
        media_callee_to_caller: Secret32::new(media_callee),
        safety_code: crate::SafetyCode(0),
        counters: Default::default(),
    }
}

/// Sets the next SFrame counter of `kid` (0–3), to replay vectors at large counters.
/// Reusing a counter with the same key breaks AES-GCM completely.
pub fn set_next_counter(keys: &crate::CallKeys, kid: u64, next: u64) {
    keys.counters[kid as usize].store(next, std::sync::atomic::Ordering::Relaxed);
}
