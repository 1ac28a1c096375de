//! SFrame receivers (docs/PROTOCOL.md §7) on any bytes from the network: never panic; anything
//! that is not an authentic frame of the peer is dropped and counted, never returned.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pqcall_crypto::{CallContext, CallKeys, Callee, Caller, Role};

/// One real handshake's keys, made once.
fn keys() -> &'static CallKeys {
    static KEYS: OnceLock<CallKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (caller, offer) = Caller::start().unwrap();
        let (callee, answer) = Callee::answer(&offer).unwrap();
        let ctx = CallContext::from_sdp("c", "a", "b", "a=fingerprint:sha-256 AA", "a=fingerprint:sha-256 BB").unwrap();
        let (caller, confirm) = caller.finish(&answer, &ctx);
        let (keys, reply) = callee.confirm(&confirm, &ctx).unwrap();
        caller.verify(&reply).unwrap();
        keys
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let mut media = keys.media_receiver(Role::Callee);
    let mut chat = keys.data_receiver(Role::Caller);
    // Random bytes never authenticate (a 2^-128 event aside).
    if !data.is_empty() {
        assert!(media.decrypt(data).is_err());
        assert!(chat.decrypt(data).is_err());
        assert_eq!((media.received(), media.dropped()), (0, 1));
    }
});
