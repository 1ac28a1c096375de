//! What the scripts are given: load.lua's and commit.lua's arguments, as typed structs
//! serialised straight to JSON, the constants a node writes into its commit script, and
//! the change to the cluster-wide gauges that a commit applies.

use std::borrow::Borrow;
use std::fmt::Write;

use pqcall_signaling::{Call, CallState, Records, UserRecord};
use serde::Serialize;

use super::records::{CONNECTIONS, calls_field};

/// load.lua's argument.
#[derive(Serialize)]
pub(super) struct LoadArgs<'a> {
    /// rate.lua's `charge`: key, ms between requests, burst, cost, now.
    pub(super) rate: Option<(String, f64, u32, u32, u64)>,
    pub(super) pre: &'a str,
    pub(super) users: &'a [String],
    pub(super) calls: &'a [String],
}

/// One event for commit.lua: meta key, log key, audience kind, its connection, name,
/// the argument index of its data, user.
pub(super) type EventArg = (String, String, &'static str, String, String, usize, String);

/// commit.lua's first argument; each event's data follows as an argument of its own.
#[derive(Serialize)]
pub(super) struct CommitArgs<'a> {
    /// rate.lua's `charge_read`'s arguments, when no load charged the rate (the records
    /// were this node's copies).
    pub(super) rate: Option<(String, f64, u32, u32, u64)>,
    /// The stream leases: a lease to add (`[expiry, member]`) or to claim.
    pub(super) hold: Option<(u64, String)>,
    pub(super) claim: Option<String>,
    /// The gauges: field and change.
    pub(super) gauge: Vec<(String, i64)>,
    /// Keys whose version must still be the one loaded (0: absent).
    pub(super) check: Vec<(&'a str, u64)>,
    /// Records to write: key, JSON, links (what load.lua follows); keys to delete.
    pub(super) put: &'a [(String, String, String)],
    pub(super) del: &'a [String],
    /// Timers: the one fired (removed), the ones added (`[at, member]`).
    pub(super) fired: Option<&'a str>,
    pub(super) tadd: Vec<(String, String)>,
    pub(super) ev: Vec<EventArg>,
    pub(super) now: u64,
}

/// What is the same for every commit of a node: the keys of the stream leases, the
/// gauges, the version counter and the timers; how long records live; the event logs'
/// limits; the stem of the users' channels. They are written into the node's commit
/// script as constants ([`CommitFixed::lua`]) rather than sent with every commit: a
/// script's argument costs Redis a JSON decode and a string made for each of its parts.
pub(super) struct CommitFixed<'a> {
    pub(super) skey: &'a str,
    pub(super) gkey: &'a str,
    pub(super) vkey: &'a str,
    pub(super) tkey: &'a str,
    pub(super) rttl: u64,
    pub(super) max: usize,
    pub(super) age: u64,
    pub(super) maxbytes: usize,
    pub(super) ttl: u64,
    pub(super) chan: &'a str,
}

impl CommitFixed<'_> {
    /// The Lua statement that defines commit.lua's `k`.
    pub(super) fn lua(&self) -> String {
        let mut out = String::from("local k = {");
        for (name, value) in [
            ("skey", self.skey),
            ("gkey", self.gkey),
            ("vkey", self.vkey),
            ("tkey", self.tkey),
            ("chan", self.chan),
        ] {
            let _ = write!(out, "{name} = {}, ", lua_string(value));
        }
        let _ = write!(
            out,
            "rttl = {}, max = {}, age = {}, maxbytes = {}, ttl = {}}}",
            self.rttl, self.max, self.age, self.maxbytes, self.ttl
        );
        out
    }
}

/// `s` as a Lua 5.1 string literal: letters, digits and a few marks as they are, every
/// other byte as a decimal escape (`\ddd`), so that a key prefix can hold anything.
fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b":-_./{}@#".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\{b:03}");
        }
    }
    out.push('"');
    out
}

/// How a transaction changes the cluster-wide gauges: the records before it count
/// negative, those after it positive. (Named only when they changed: most requests
/// change none.)
#[derive(Default)]
pub(super) struct Gauges {
    connections: i64,
    /// By state, in the order of `CallState::ALL`.
    calls: [i64; CallState::ALL.len()],
}

impl Gauges {
    pub(super) fn count<U: Borrow<UserRecord>, C: Borrow<Call>>(
        &mut self,
        records: &Records<U, C>,
        sign: i64,
    ) {
        let conns: usize = records
            .users
            .values()
            .map(|u| u.borrow().connections())
            .sum();
        self.connections += sign * conns as i64;
        for call in records.calls.values() {
            let state = call.borrow().state;
            if let Some(i) = CallState::ALL.iter().position(|s| *s == state) {
                self.calls[i] += sign;
            }
        }
    }

    /// The fields that changed, and by how much.
    pub(super) fn changes(&self) -> Vec<(String, i64)> {
        let calls = CallState::ALL
            .iter()
            .zip(self.calls)
            .filter(|(_, d)| *d != 0);
        let calls = calls.map(|(s, d)| (calls_field(*s), d));
        let conns = (self.connections != 0).then(|| (CONNECTIONS.to_owned(), self.connections));
        conns.into_iter().chain(calls).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lua_string_escapes_every_byte_that_could_end_or_bend_it() {
        assert_eq!(lua_string("app:ev:"), "\"app:ev:\"");
        assert_eq!(
            lua_string("a\"b\\c\n]]é"),
            "\"a\\034b\\092c\\010\\093\\093\\195\\169\""
        );
    }

    #[test]
    fn the_fixed_part_is_one_lua_table() {
        let fixed = CommitFixed {
            skey: "p:streams",
            gkey: "p:gauges",
            vkey: "p:version",
            tkey: "p:timers",
            rttl: 604_800,
            max: 1000,
            age: 600_000,
            maxbytes: 4_194_304,
            ttl: 660,
            chan: "p:ev:",
        };
        assert_eq!(
            fixed.lua(),
            "local k = {skey = \"p:streams\", gkey = \"p:gauges\", vkey = \"p:version\", \
             tkey = \"p:timers\", chan = \"p:ev:\", rttl = 604800, max = 1000, age = 600000, \
             maxbytes = 4194304, ttl = 660}"
        );
    }
}
