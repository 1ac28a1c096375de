//! The handshake's wire messages (docs/PROTOCOL.md §6): any `kem` field strings decode or
//! fail with an error, and a decoded offer that reaches the callee is answered or
//! refused (the FIPS 203 encapsulation key check), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqcall_crypto::{AnswerKem, Callee, CalleeConfirm, CallerConfirm, OfferKem};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // Split into up to two fields at the first NUL.
    let (a, b) = s.split_once('\0').unwrap_or((s, ""));
    let _ = AnswerKem::from_wire(a);
    let _ = CallerConfirm::from_wire(a, b);
    let _ = CalleeConfirm::from_wire(a);
    let _ = pqcall_crypto::wire::check(pqcall_crypto::Field::Ek, a);
    if let Ok(offer) = OfferKem::from_wire(a, b) {
        let _ = Callee::answer(&offer);
    }
});
