//! The fingerprint rule on any SDP (docs/PROTOCOL.md §6): never panics; an accepted SDP binds a
//! normalized value (no line breaks, no leading or trailing space in any item, sorted items);
//! the answer is a function of the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = std::str::from_utf8(data) else {
        return;
    };
    let fp = pqcall_crypto::fingerprint::from_sdp(sdp);
    if let Ok(fp) = &fp {
        assert!(!fp.contains('\n'), "{fp:?}");
        let items: Vec<&str> = fp.split(',').collect();
        assert!(items.windows(2).all(|w| w[0] < w[1]), "{fp:?}");
        for item in items {
            assert_eq!(item.split(' ').count(), 2, "{fp:?}");
        }
    }
    assert_eq!(fp, pqcall_crypto::fingerprint::from_sdp(sdp));
});
