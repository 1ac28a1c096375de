//! The fingerprint rule of docs/PROTOCOL.md §6 on real SDP, on the shared corpus that the
//! JavaScript client must agree with, and on generated input.

use pqcall_crypto::Error;
use pqcall_crypto::fingerprint::{Fingerprints, from_sdp};
use proptest::prelude::*;
use serde::Deserialize;

#[test]
fn chromium_offer_has_it_at_media_level() {
    assert_eq!(
        from_sdp(include_str!("fixtures/chromium-offer.sdp")).unwrap(),
        "sha-256 D5:AA:97:12:8F:C0:6E:F0:24:3F:81:01:74:09:63:B1:2B:B8:25:7F:13:D3:8D:4D:5E:94:F7:B7:1C:14:D8:8F"
    );
    assert_eq!(
        from_sdp(include_str!("fixtures/chromium-answer.sdp")).unwrap(),
        "sha-256 4B:15:B1:EB:F0:40:51:0C:20:54:EC:2E:C1:96:9E:74:08:FD:11:FB:75:14:6A:F8:9B:6C:A1:64:2C:1F:3B:82"
    );
}

#[test]
fn webrtc_rs_session_level() {
    assert_eq!(
        from_sdp(include_str!("fixtures/webrtc-rs-offer.sdp")).unwrap(),
        "sha-256 BD:22:1C:6C:48:14:30:0C:A2:EC:D2:D8:33:EC:C0:96:C5:88:D0:4D:11:CB:F8:24:EE:78:4C:25:28:AD:C3:2C"
    );
}

#[test]
fn webrtc_rs_media_level_only() {
    assert_eq!(
        from_sdp(include_str!("fixtures/webrtc-rs-answer-media-level.sdp")).unwrap(),
        "sha-256 35:D7:6A:00:EA:56:D3:4A:06:31:BD:AC:36:8B:A7:75:57:BF:29:99:03:E2:76:75:98:F0:2D:FB:69:37:5D:E8"
    );
}

#[test]
fn no_fingerprint_is_refused() {
    for sdp in [
        include_str!("fixtures/chromium-offer-no-fingerprint.sdp"),
        "",
        "a=fingerprint:",
        "a=fingerprint:sha-256",
    ] {
        assert!(
            matches!(from_sdp(sdp), Err(Error::BadFingerprint(_))),
            "{sdp:?}"
        );
    }
}

#[test]
fn a_second_value_for_one_hash_is_refused_wherever_it_is() {
    // Session level first, a different media-level line later (Chromium verifies the latter).
    let later = "v=0\r\na=fingerprint:sha-256 AA:AA\r\nm=audio 9 RTP/SAVPF 0\r\na=fingerprint:sha-256 BB:BB\r\n";
    // Two lines in one media section (Chromium verifies the last one).
    let same_section = "v=0\r\nm=audio 9 RTP/SAVPF 0\r\na=fingerprint:sha-256 AA:AA\r\na=fingerprint:sha-256 BB:BB\r\n";
    for sdp in [later, same_section] {
        assert!(matches!(from_sdp(sdp), Err(Error::BadFingerprint(_))));
    }
}

#[test]
fn three_hashes_of_one_certificate_are_all_bound() {
    let sdp = "v=0\r\nm=audio 9 RTP/SAVPF 0\r\na=fingerprint:sha-512 CC\r\na=fingerprint:sha-256 AA\r\na=fingerprint:sha-384 BB\r\n";
    let fps = Fingerprints::parse(sdp).unwrap();
    assert_eq!(fps.binding(), "sha-256 AA,sha-384 BB,sha-512 CC");
    assert!(fps.matches("sha-384", &[0xbb]));
    assert!(fps.matches("SHA-512", &[0xcc]));
    assert!(!fps.matches("sha-256", &[0xbb]));
    assert!(!fps.matches("sha-1", &[0xaa]));
}

#[derive(Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    sdp: String,
    binding: Option<String>,
}

/// The same file is checked by `web/test/fingerprint.test.js`: the two parsers agree.
#[test]
fn shared_corpus() {
    let corpus: Corpus = serde_json::from_str(include_str!("vectors/fingerprint-v1.json")).unwrap();
    assert!(corpus.cases.len() >= 20);
    for case in corpus.cases {
        assert_eq!(from_sdp(&case.sdp).ok(), case.binding, "{}", case.name);
    }
}

proptest! {
    #[test]
    fn never_panics_on_any_text(s in "(?s).{0,500}") {
        let _ = from_sdp(&s);
    }

    #[test]
    fn finds_one_fingerprint_anywhere(
        before in prop::collection::vec("[b-z]=[ -~]{0,30}", 0..6),
        hash in "[a-zA-Z0-9-]{1,8}",
        hex in prop::collection::vec("[0-9a-fA-F]{2}", 1..48),
        after in prop::collection::vec("[b-z]=[ -~]{0,30}", 0..3),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let hex = hex.join(":");
        let mut lines = before.clone();
        lines.push(format!("a=fingerprint:{hash} {hex}"));
        lines.extend(after);
        let sdp = lines.join(nl);
        prop_assert_eq!(
            from_sdp(&sdp).unwrap(),
            format!("{} {}", hash.to_ascii_lowercase(), hex.to_ascii_uppercase())
        );
    }

    /// Any set of lines with distinct hash names is accepted, and the binding does not
    /// depend on their order.
    #[test]
    fn binding_is_order_independent(
        mut lines in prop::collection::btree_map("[a-z0-9-]{1,8}", "[0-9A-F]{2}(:[0-9A-F]{2}){0,4}", 1..5)
            .prop_map(|m| m.into_iter().map(|(h, x)| format!("a=fingerprint:{h} {x}")).collect::<Vec<_>>()),
        seed in any::<u64>(),
    ) {
        let forward = from_sdp(&lines.join("\r\n")).unwrap();
        let n = lines.len();
        lines.rotate_left((seed as usize) % n);
        lines.reverse();
        prop_assert_eq!(from_sdp(&lines.join("\r\n")).unwrap(), forward);
    }
}
