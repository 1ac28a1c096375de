//! `call.ice`'s data written straight to JSON: the bytes serde_json writes for
//! [`CallIce`] (a property test compares them), without serde_json's byte-by-byte escape
//! loop for strings that need no escaping, which is every string of a real candidate.
//! Relaying a 3.3 KB batch spent about a fifth of the server's user-space instructions
//! in that loop (docs/profiles/relay.md, "Instructions").

use std::fmt::Write as _;

use crate::event::CallIce;

/// Whether serde_json writes `s` unchanged between its quotes: no `"`, no `\`, no
/// control character (RFC 8259 §7). Branch-free within each chunk, so it vectorises.
fn plain(s: &str) -> bool {
    s.as_bytes().chunks(32).all(|chunk| {
        chunk
            .iter()
            .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'))
    })
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
            let _ = write!(out, ",\"sdpMLineIndex\":{index}");
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
                    candidate,
                    sdp_mid,
                    sdp_m_line_index,
                    username_fragment,
                },
            )
    }

    proptest! {
        #[test]
        fn the_same_bytes_as_serde_json(
            call_id in text(),
            candidates in proptest::collection::vec(candidate(), 0..5),
            done in any::<bool>(),
        ) {
            let e = CallIce { call_id, candidates, done };
            prop_assert_eq!(call_ice(&e), serde_json::to_string(&e).unwrap());
        }
    }
}
