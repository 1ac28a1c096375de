//! The DTLS fingerprints that `docs/PROTOCOL.md` §6 binds into the transcript.
//!
//! A browser verifies the peer's DTLS certificate against *one* `a=fingerprint` line of
//! the SDP, of its own choosing (Chromium: the last media-level line). If only one line
//! were bound, a relay could add a second line that the browser verifies instead. So:
//!
//! - every line that starts with `a=fingerprint:` (session level and every media
//!   section) is read; its value must be exactly two tokens separated by ASCII
//!   whitespace (space, tab, form feed), a hash function name and a hex string, neither
//!   containing `,` (the separator of the binding, which must stay unambiguous);
//! - each is normalised, ASCII only: hash name lower-cased, hex upper-cased, one
//!   space between (`"sha-256 AB:CD:..."`);
//! - all lines with the same hash name must carry the same value, and there must be
//!   at least one line; otherwise the SDP is refused ([`Error::BadFingerprint`]) and
//!   the call ends with reason `fingerprint_mismatch`;
//! - the binding is every distinct normalised value, sorted bytewise, joined with
//!   `","`. For the usual SDP with one value, it is just that value.
//!
//! Lines end with `\n` or `\r\n`. Non-ASCII bytes are never case-mapped, so the Rust
//! and JavaScript parsers (`web/src/fingerprint.js`) agree on every input.

use crate::error::Error;

const PREFIX: &str = "a=fingerprint:";

/// The distinct fingerprints of one SDP, normalised and sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints(Vec<(String, String)>);

impl Fingerprints {
    /// Reads every `a=fingerprint` line of an SDP and applies the rule of the module docs.
    pub fn parse(sdp: &str) -> Result<Self, Error> {
        let mut found: Vec<(String, String)> = Vec::new();
        for line in sdp.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let Some(value) = line.strip_prefix(PREFIX) else {
                continue;
            };
            let mut parts = value.split(is_space).filter(|p| !p.is_empty());
            let (Some(hash), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(Error::BadFingerprint("a fingerprint line is malformed"));
            };
            // "," joins the bound values: inside one it would make the binding ambiguous.
            if hash.contains(',') || hex.contains(',') {
                return Err(Error::BadFingerprint("a fingerprint line is malformed"));
            }
            let (hash, hex) = (hash.to_ascii_lowercase(), hex.to_ascii_uppercase());
            match found.iter().find(|(h, _)| *h == hash) {
                Some((_, bound)) if *bound != hex => {
                    return Err(Error::BadFingerprint(
                        "two different fingerprints for one hash function",
                    ));
                }
                Some(_) => {}
                None => found.push((hash, hex)),
            }
        }
        if found.is_empty() {
            return Err(Error::BadFingerprint("the SDP has no fingerprint"));
        }
        // Bytewise order of the bound items "hash HEX" (not of the pairs: a hash name may
        // hold bytes below the space).
        found.sort_by_cached_key(|(h, x)| format!("{h} {x}"));
        Ok(Self(found))
    }

    /// The value bound into the transcript: `"hash HEX"` items joined with `","`.
    pub fn binding(&self) -> String {
        let items: Vec<String> = self.0.iter().map(|(h, x)| format!("{h} {x}")).collect();
        items.join(",")
    }

    /// Whether `hash` (e.g. `"sha-256"`) with `digest` is one of the bound values: the
    /// check of the peer's DTLS certificate once it is known.
    pub fn matches(&self, hash: &str, digest: &[u8]) -> bool {
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        let hex = hex.join(":");
        let hash = hash.to_ascii_lowercase();
        self.0.iter().any(|(h, x)| *h == hash && *x == hex)
    }
}

/// The binding string of an SDP's fingerprints (see the module docs).
pub fn from_sdp(sdp: &str) -> Result<String, Error> {
    Fingerprints::parse(sdp).map(|f| f.binding())
}

/// The whitespace that separates the two tokens: ASCII space, tab and form feed (a
/// `\r` can only end a line, and lines are split on `\n`).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c' | '\r')
}
