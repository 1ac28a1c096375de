//! DTLS fingerprint extraction (PROTOCOL.md §6) on real SDP and on generated input.

use pqcall_crypto::fingerprint::from_sdp;
use proptest::prelude::*;

#[test]
fn chromium_offer_has_it_at_media_level() {
    assert_eq!(
        from_sdp(include_str!("fixtures/chromium-offer.sdp")),
        "sha-256 D5:AA:97:12:8F:C0:6E:F0:24:3F:81:01:74:09:63:B1:2B:B8:25:7F:13:D3:8D:4D:5E:94:F7:B7:1C:14:D8:8F"
    );
    assert_eq!(
        from_sdp(include_str!("fixtures/chromium-answer.sdp")),
        "sha-256 4B:15:B1:EB:F0:40:51:0C:20:54:EC:2E:C1:96:9E:74:08:FD:11:FB:75:14:6A:F8:9B:6C:A1:64:2C:1F:3B:82"
    );
}

#[test]
fn webrtc_rs_session_level() {
    assert_eq!(
        from_sdp(include_str!("fixtures/webrtc-rs-offer.sdp")),
        "sha-256 BD:22:1C:6C:48:14:30:0C:A2:EC:D2:D8:33:EC:C0:96:C5:88:D0:4D:11:CB:F8:24:EE:78:4C:25:28:AD:C3:2C"
    );
}

#[test]
fn webrtc_rs_media_level_only() {
    assert_eq!(
        from_sdp(include_str!("fixtures/webrtc-rs-answer-media-level.sdp")),
        "sha-256 35:D7:6A:00:EA:56:D3:4A:06:31:BD:AC:36:8B:A7:75:57:BF:29:99:03:E2:76:75:98:F0:2D:FB:69:37:5D:E8"
    );
}

#[test]
fn no_fingerprint_is_the_empty_string() {
    assert_eq!(
        from_sdp(include_str!("fixtures/chromium-offer-no-fingerprint.sdp")),
        ""
    );
    assert_eq!(from_sdp(""), "");
    assert_eq!(from_sdp("a=fingerprint:"), "");
    assert_eq!(from_sdp("a=fingerprint:sha-256"), "");
}

#[test]
fn session_level_wins_over_media_level_and_case_is_normalized() {
    let sdp = "v=0\r\na=fingerprint:SHA-256 ab:cd:ef\r\nm=audio 9 RTP/SAVPF 0\r\na=fingerprint:sha-1 11:22\r\n";
    assert_eq!(from_sdp(sdp), "sha-256 AB:CD:EF");
    let media_only = "v=0\nm=audio 9 RTP/SAVPF 0\na=fingerprint:Sha-1   0a:0b\nm=video 9 RTP/SAVPF 96\na=fingerprint:sha-256 FF\n";
    assert_eq!(from_sdp(media_only), "sha-1 0A:0B");
}

proptest! {
    #[test]
    fn never_panics_on_any_text(s in "(?s).{0,500}") {
        let _ = from_sdp(&s);
    }

    #[test]
    fn finds_the_first_fingerprint_anywhere(
        before in prop::collection::vec("[a-eg-z]=[ -~]{0,30}", 0..6),
        hash in "[a-zA-Z0-9-]{1,8}",
        hex in prop::collection::vec("[0-9a-fA-F]{2}", 1..48),
        after in prop::collection::vec("a=fingerprint:sha-1 [0-9A-F:]{2,20}", 0..3),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let hex = hex.join(":");
        let mut lines = before.clone();
        lines.push(format!("a=fingerprint:{hash} {hex}"));
        lines.extend(after);
        let sdp = lines.join(nl);
        let got = from_sdp(&sdp);
        prop_assert_eq!(got, format!("{} {}", hash.to_ascii_lowercase(), hex.to_ascii_uppercase()));
    }
}
