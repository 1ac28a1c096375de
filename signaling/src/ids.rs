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
