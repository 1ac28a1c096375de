//! Tokens already verified, so that a device's every request does not decode and check
//! the same JWT again (RFC 7519 §7.2's steps: two base64 decodes, two JSON parses and
//! the signature, about 6 % of the server's CPU per relayed message in
//! docs/profiles/relay.md).
//!
//! An entry is keyed by the SHA-256 of the whole token, so a lookup compares digests,
//! never token bytes, and holds what the verification found: the user and `exp`. It
//! stays right until `exp` plus the leeway: nothing else a verification checks changes
//! with time in a way that could turn a valid token invalid (`nbf` only becomes true, the
//! lifetime limit only looser). The cache is bounded: it is emptied when it holds
//! [`CAP`] tokens, so a flood of distinct valid tokens costs verifications, not memory.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// At most this many tokens are remembered (each about 100 bytes plus its user id).
pub const CAP: usize = 4096;

/// Verified tokens: digest → (user, `exp` in Unix seconds).
#[derive(Default)]
pub struct VerifiedTokens {
    map: Mutex<HashMap<[u8; 32], (String, u64)>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// The user and `exp` of `token` if it was verified before and has not expired at
    /// `now` (Unix seconds), allowing `leeway` seconds as the verification does.
    pub fn get(&self, token: &str, now: u64, leeway: u64) -> Option<(String, u64)> {
        let key = digest(token);
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let (user, exp) = map.get(&key)?;
        (exp.saturating_add(leeway) >= now).then(|| (user.clone(), *exp))
    }

    /// Remembers a token that was just verified.
    pub fn put(&self, token: &str, user: &str, exp: u64) {
        let key = digest(token);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CAP {
            map.clear();
        }
        map.insert(key, (user.to_owned(), exp));
    }

    /// How many tokens are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_token_is_found_until_it_expires() {
        let v = VerifiedTokens::default();
        v.put("a.b.c", "alice", 1000);
        assert_eq!(v.get("a.b.c", 1000, 5), Some(("alice".into(), 1000)));
        assert_eq!(v.get("a.b.c", 1005, 5), Some(("alice".into(), 1000)));
        assert_eq!(v.get("a.b.c", 1006, 5), None, "expired past the leeway");
        assert_eq!(v.get("a.b.d", 1000, 5), None, "another token");
    }

    #[test]
    fn it_never_holds_more_than_its_cap() {
        let v = VerifiedTokens::default();
        for i in 0..CAP * 3 + 7 {
            v.put(&format!("token-{i}"), "u", u64::MAX);
            assert!(v.len() <= CAP);
        }
        assert_eq!(v.len(), 7, "emptied at the cap, then filled again");
    }
}
