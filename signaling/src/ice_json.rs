//! `call.ice`'s data written straight to JSON: the bytes serde_json writes for
//! [`CallIce`] (a property test compares them), without serde_json's byte-by-byte escape
//! loop for strings that need no escaping, which is every string of a real candidate.
//! Relaying a 3.3 KB batch spent about a fifth of the server's user-space instructions
//! in that loop (docs/profiles/relay.md, "Instructions").

use crate::event::CallIce;

/// Whether serde_json writes `s` unchanged between its quotes: no `"`, no `\`, no
/// control character (RFC 8259 §7). Eight bytes at a time, with the same word tricks as
/// serde_json's own reader (Mycroft's "has a zero byte"); the tail byte by byte.
fn plain(s: &str) -> bool {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    let bytes = s.as_bytes();
    let mut words = bytes.chunks_exact(8);
    let mut found = 0;
    for w in words.by_ref() {
        let x = u64::from_le_bytes(w.try_into().unwrap_or_default());
        // Control characters are the bytes below 0x20: x - 0x20 borrows into their
        // high bit (bytes of 0x80 and above have it set in `x`, so `!x` clears it).
        found |= (x.wrapping_sub(ONES * 0x20) & !x)
            | zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\\')));
    }
    found & HIGH == 0
        && words
            .remainder()
            .iter()
            .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// `s` as a JSON string.
fn push_str(out: &mut String, s: &str) {
    if plain(s) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // The rare string that needs escaping gets serde_json's own.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// `e` as one-line JSON, the same bytes as `serde_json::to_string(e)`.
pub(crate) fn call_ice(e: &CallIce) -> String {
    let size: usize = e.candidates.iter().map(|c| c.candidate.len() + 96).sum();
    let mut out = String::with_capacity(64 + e.call_id.len() + size);
    out.push_str("{\"call_id\":");
    push_str(&mut out, &e.call_id);
    out.push_str(",\"candidates\":[");
    for (i, c) in e.candidates.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"candidate\":");
        push_str(&mut out, &c.candidate);
        if let Some(mid) = &c.sdp_mid {
            out.push_str(",\"sdpMid\":");
            push_str(&mut out, mid);
        }
        if let Some(index) = c.sdp_m_line_index {
            out.push_str(",\"sdpMLineIndex\":");
            out.push_str(itoa::Buffer::new().format(index));
        }
        if let Some(ufrag) = &c.username_fragment {
            out.push_str(",\"usernameFragment\":");
            push_str(&mut out, ufrag);
        }
        out.push('}');
    }
    out.push_str("],\"done\":");
    out.push_str(if e.done { "true" } else { "false" });
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::IceCandidate;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // Mostly what candidates hold, sometimes what must be escaped.
        prop_oneof![
            "[ -~]{0,40}",
            "[a-z0-9 :.\"\\\\\u{0}-\u{1f}\u{7f}é€😀]{0,20}",
        ]
    }

    fn candidate() -> impl Strategy<Value = IceCandidate> {
        (
            text(),
            proptest::option::of(text()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(text()),
        )
            .prop_map(
                |(candidate, sdp_mid, sdp_m_line_index, username_fragment)| IceCandidate {
                    candidate: candidate.into(),
                    sdp_mid: sdp_mid.map(Into::into),
                    sdp_m_line_index,
                    username_fragment: username_fragment.map(Into::into),
                },
            )
    }

    #[test]
    fn plain_finds_every_byte_that_needs_escaping_wherever_it_is() {
        for len in 1..=24 {
            for at in 0..len {
                for b in (0u8..0x20).chain([b'"', b'\\']) {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    let s = String::from_utf8(s).unwrap();
                    assert!(!plain(&s), "{s:?}");
                }
                let mut chars = vec!['é'; len];
                chars[at] = ' ';
                let s: String = chars.into_iter().collect();
                assert!(plain(&s), "{s:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn the_same_bytes_as_serde_json(
            call_id in text(),
            candidates in proptest::collection::vec(candidate(), 0..5),
            done in any::<bool>(),
        ) {
            let e = CallIce { call_id, candidates: candidates.into(), done };
            prop_assert_eq!(call_ice(&e), serde_json::to_string(&e).unwrap());
        }
    }
}
