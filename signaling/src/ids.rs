//! Identifiers: user ids (from the token's `sub`), server-generated call,
//! connection and conversation ids, and the source of their randomness.

use crate::error::Error;

/// Time in the core: Unix milliseconds, always passed in by the caller.
pub type Millis = u64;

/// Longest accepted user id, in bytes.
pub const MAX_USER_ID: usize = 128;

/// Checks a user id: 1..=128 bytes, no control characters.
pub fn check_user_id(field: &str, id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > MAX_USER_ID {
        return Err(Error::invalid(field, "a user id is 1 to 128 bytes"));
    }
    if id.chars().any(char::is_control) {
        return Err(Error::invalid(field, "a user id has no control characters"));
    }
    Ok(())
}

/// A message id: the store's per-store sequence number, zero-padded to 16 digits so
/// that ids also sort as text.
pub fn message_id(n: u64) -> String {
    format!("{n:016}")
}

/// The sequence number of a message id given as `field`: 400 `invalid_field` unless it
/// is written exactly as [`message_id`] writes it (a bare `9` would sort as newer than
/// `0000000000000010`).
pub fn parse_message_id(field: &str, s: &str) -> Result<u64, Error> {
    let not = || Error::invalid(field, "not a message id");
    if s.len() < 16 || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not());
    }
    let n: u64 = s.parse().map_err(|_| not())?;
    if message_id(n) != s {
        return Err(not());
    }
    Ok(n)
}

/// True when `id` has the form of a server-generated id: 32 lower-case hex digits.
pub fn is_server_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where the core gets new random ids. The default draws 128 bits from the OS;
/// tests use [`SequentialIds`] so that runs are reproducible.
pub trait IdSource: Send {
    /// A fresh 128-bit id as 32 lower-case hex digits.
    fn next_id(&mut self) -> String;
}

/// 128-bit ids from the operating system's random number generator, fetched 32 ids
/// at a time to spare a system call per id.
#[derive(Debug)]
pub struct RandomIds {
    buf: [u8; 512],
    used: usize,
}

impl Default for RandomIds {
    fn default() -> Self {
        RandomIds {
            buf: [0; 512],
            used: 512,
        }
    }
}

impl IdSource for RandomIds {
    fn next_id(&mut self) -> String {
        if self.used == self.buf.len() {
            if getrandom::fill(&mut self.buf).is_err() {
                // Without OS randomness nothing here is safe to run.
                panic!("the operating system's random number generator failed");
            }
            self.used = 0;
        }
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.buf[self.used..self.used + 16]);
        // Never hand out the same bytes twice.
        self.buf[self.used..self.used + 16].fill(0);
        self.used += 16;
        format!("{:032x}", u128::from_be_bytes(b))
    }
}

/// Deterministic ids 000…001, 000…002, … for tests and simulations.
#[derive(Debug, Default)]
pub struct SequentialIds(u128);

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> String {
        self.0 += 1;
        format!("{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_read_only_as_written() {
        assert_eq!(message_id(9), "0000000000000009");
        assert_eq!(parse_message_id("m", "0000000000000009").ok(), Some(9));
        assert_eq!(
            parse_message_id("m", &message_id(u64::MAX)).ok(),
            Some(u64::MAX)
        );
        for bad in [
            "9",
            "",
            "00000000000000009",
            "000000000000000x",
            "-000000000000009",
        ] {
            let e = parse_message_id("m", bad).unwrap_err();
            assert_eq!(e.code(), "invalid_field", "{bad}");
        }
    }
}
