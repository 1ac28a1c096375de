//! The DTLS fingerprint that PROTOCOL.md §6 binds into the transcript.
//!
//! Rule: take the first line of the SDP that starts with `a=fingerprint:`. Session-level
//! lines come before the first `m=` line, so in document order this is the session-level
//! fingerprint when there is one, else the first one of a media section. Its value is
//! split on whitespace into a hash name and a hex string; the result is the hash name in
//! lower case, one space, the hex in upper case (colons kept), e.g. `"sha-256 AB:CD:..."`.
//! When there is no such line, or it lacks either part, the result is the empty string.
//! Lines may end with `\r\n` or `\n`.

/// Extracts and normalizes the DTLS fingerprint of an SDP (see the module docs).
pub fn from_sdp(sdp: &str) -> String {
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(value) = line.strip_prefix("a=fingerprint:") {
            let mut parts = value.split_ascii_whitespace();
            return match (parts.next(), parts.next()) {
                (Some(hash), Some(hex)) => {
                    format!("{} {}", hash.to_ascii_lowercase(), hex.to_ascii_uppercase())
                }
                _ => String::new(),
            };
        }
    }
    String::new()
}
