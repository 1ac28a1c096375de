//! DTLS fingerprint extraction from any SDP (PROTOCOL.md §6): never panics, and the
//! result is normalized (no spaces, upper-case hex and colons after the hash name).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = std::str::from_utf8(data) else {
        return;
    };
    let fp = pqcall_crypto::fingerprint::from_sdp(sdp);
    assert!(!fp.contains('\r') && !fp.contains('\n'), "{fp:?}");
    // Extraction is a function of the text: the same input, the same answer.
    assert_eq!(fp, pqcall_crypto::fingerprint::from_sdp(sdp));
});
