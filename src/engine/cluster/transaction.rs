//! The optimistic transaction behind every decision in a cluster: load the request's
//! records (charging its rate in the same round trip, load.lua) or take this node's
//! copies of them (cache.rs), run the core on them, and commit what changed together
//! with the events (commit.lua), which checks that no record it read changed meanwhile
//! (and charges the rate if no load did); on a conflict, run again on the records the
//! refusal brought back.
//!
//! The scripts' arguments are typed structs serialised straight to JSON, and a record
//! is written only when it differs from the one loaded (compared as a record, not as
//! JSON text), so a request that changes no record (an ICE batch) serialises none.

use std::collections::BTreeMap;
use std::sync::Arc;

use pqcall_signaling::{Call, Core, Error, Event, Output, Records, Scope, UserRecord};
use redis::Value;
use serde::Serialize;

use super::cache::{Shared, record_key, seen, seen_in, split_key};
use super::log::{as_u64, audience_fields, unavailable};
use super::records::{Cluster, LeaseChange, RateCharge, committed, rate_limited};
use super::script_args::{CommitArgs, EventArg, Gauges, LoadArgs};
use crate::clock::now_ms;

/// How long records live without a write (a safety net for records a dead node left).
pub(super) const RECORD_TTL_SECS: u64 = 7 * 24 * 3600;

/// Transactions give up after this many conflicts in a row (503 `unavailable`).
const MAX_ATTEMPTS: usize = 64;

/// What a load found (or this node's copies held): the records, and the version of
/// every key looked at (0 when missing), which the commit checks; and, from a load,
/// the length of each record's JSON.
#[derive(Default)]
pub(super) struct Loaded {
    pub(super) records: Shared,
    pub(super) versions: BTreeMap<String, u64>,
    pub(super) sizes: BTreeMap<String, usize>,
}

/// A reply's text, borrowed (records and ids are UTF-8: commits write them so).
fn text(v: &Value) -> Option<&str> {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

/// A decision's outputs, sorted for the commit: events to log (with their data apart),
/// timers, and what is carried out after the commit.
#[derive(Default)]
struct Sorted {
    events: Vec<EventArg>,
    data: Vec<String>,
    timers: Vec<(String, String)>,
    earliest: Option<u64>,
    ephemeral: Vec<(String, Event)>,
    later: Vec<Output>,
}

impl Cluster {
    /// Runs `op` on the closure of `seeds` and commits its effects, exactly once.
    /// `fired` is a due timer's member in the timer set, removed by the same commit.
    pub async fn transact<R, F>(&self, seeds: Scope, fired: Option<&str>, op: F) -> Result<R, Error>
    where
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error>,
    {
        let done = self.transact_with(seeds, fired, None, op, |_| LeaseChange::Keep);
        committed(done.await?)
    }

    /// [`transact`](Self::transact) for a request that first charges its user's rate
    /// (429 `rate_limited`, nothing done), in the same round trip as the load, or as the
    /// commit when the records were this node's copies.
    pub async fn transact_charged<R, F>(
        &self,
        seeds: Scope,
        rate: RateCharge<'_>,
        op: F,
    ) -> Result<R, Error>
    where
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error>,
    {
        let done = self.transact_with(seeds, None, Some(rate), op, |_| LeaseChange::Keep);
        committed(done.await?)
    }

    /// [`transact`](Self::transact) that also changes a stream's lease (chosen from
    /// `op`'s result) in the same commit. `None` when it was to claim a lease that is
    /// gone: then nothing was committed.
    pub(super) async fn transact_with<R, F, L>(
        &self,
        seeds: Scope,
        fired: Option<&str>,
        rate: Option<RateCharge<'_>>,
        op: F,
        lease: L,
    ) -> Result<Option<R>, Error>
    where
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error>,
        L: Fn(&R) -> LeaseChange,
    {
        // The rate is charged once, by the load or by the commit, whatever the retries.
        let mut rate = rate;
        let mut use_copies = true;
        for _ in 0..MAX_ATTEMPTS {
            let copies = use_copies.then(|| self.cache.closure(&seeds)).flatten();
            let from_copies = copies.is_some();
            let loaded = match copies {
                Some(loaded) => loaded,
                None => {
                    let loaded = self.load(&seeds, rate.take()).await?;
                    self.cache.learn(seen_in(&loaded, &self.prefix));
                    loaded
                }
            };
            let mut gauges = Gauges::default();
            gauges.count(&loaded.records, -1);
            let mut core = Core::new(self.core.clone());
            core.import(&loaded.records);
            let (result, outputs) = match op(&mut core) {
                Ok(done) => done,
                // A refusal may be the copies' (stale ones): the records in Redis decide.
                Err(_) if from_copies => {
                    use_copies = false;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let after = core.into_records();
            gauges.count(&after, 1);

            let (put, del) = self.changes(&loaded.records, &after);
            // New records (a new call) are checked to be absent.
            let new: Vec<String> = put
                .iter()
                .filter(|(k, _, _)| !loaded.versions.contains_key(k))
                .map(|(k, _, _)| k.clone())
                .collect();
            let checked = || loaded.versions.keys().chain(&new).map(String::as_str);
            let versions = loaded.versions.values().copied();
            let check = checked()
                .zip(versions.chain(new.iter().map(|_| 0)))
                .collect();
            let sorted = self.sort(outputs);
            // A charged request never claims a lease: were it refused by the rate, the
            // claim before it would stand.
            debug_assert!(
                rate.is_none() || !from_copies || matches!(lease(&result), LeaseChange::Keep)
            );
            let (hold, claim) = match lease(&result) {
                LeaseChange::Keep => (None, None),
                LeaseChange::Hold(m) => (Some((now_ms() + self.lease_ms, m)), None),
                LeaseChange::Claim(m) => (None, Some(m)),
            };
            let args = CommitArgs {
                rate: rate.filter(|_| from_copies).map(|r| self.rate_args(r)),
                hold,
                claim,
                gauge: gauges.changes(),
                check,
                put: &put,
                del: &del,
                fired,
                tadd: sorted.timers,
                ev: sorted.events,
                now: now_ms(),
            };
            // Sized for what it holds (the records' JSON, the keys), so it is not regrown.
            let size = 512
                + put
                    .iter()
                    .map(|(_, j, l)| j.len() + l.len() + 96)
                    .sum::<usize>();
            let mut json = Vec::with_capacity(size + 256 * args.ev.len());
            serde_json::to_writer(&mut json, &args).unwrap_or_default();
            let r = self.commits.run(json, sorted.data).await?;
            match r.first().map_or(0, as_u64) {
                1 => {
                    let (version, pre) = (r.get(1).map_or(0, as_u64), &self.prefix);
                    if !put.is_empty() {
                        let after = share(after);
                        let written = put.iter().filter_map(|(key, json, _)| {
                            seen(key, pre, version, &after, json.len())
                        });
                        self.cache.learn(written);
                    }
                    self.cache
                        .forget(del.iter().filter_map(|key| split_key(key, pre)));
                }
                2 => return Ok(None),
                3 => return Err(rate_limited(r.get(1).map_or(1000, as_u64))),
                _ => {
                    tracing::debug!("transaction conflict: retrying");
                    self.catch_up(checked(), r.get(1..).unwrap_or_default())?;
                    continue;
                }
            }
            if let Some(earliest) = sorted.earliest {
                let order = std::sync::atomic::Ordering::SeqCst;
                self.earliest_added.fetch_min(earliest, order);
                self.timer_added.notify_one();
            }
            for (user, event) in sorted.ephemeral {
                self.publish_ephemeral(&user, &event).await?;
            }
            self.settle(sorted.later).await?;
            return Ok(Some(result));
        }
        Err(Error::Unavailable("too much contention; try again".into()))
    }

    /// Brings this node's copies of the records at `keys` up to `rows`, the records as
    /// a commit that found one of them changed read them.
    fn catch_up<'k>(
        &self,
        keys: impl Iterator<Item = &'k str>,
        rows: &[Value],
    ) -> Result<(), Error> {
        let mut now = Loaded::default();
        for (key, row) in keys.zip(rows) {
            let Some((is_user, id)) = split_key(key, &self.prefix) else {
                continue;
            };
            let read = text(row).map_or((0, None), stored_record);
            self.read_record(&mut now, is_user, key.to_owned(), id.to_owned(), read)?;
        }
        // A record reported absent replaces its copy, a newer version too (`learn`).
        self.cache.learn(seen_in(&now, &self.prefix));
        Ok(())
    }

    /// The records to write (key, JSON, links) and the keys to delete: only what
    /// changed. The links are what load.lua follows: a user's live calls, a call's
    /// parties.
    #[allow(clippy::type_complexity)]
    fn changes(
        &self,
        before: &Shared,
        after: &Records,
    ) -> (Vec<(String, String, String)>, Vec<String>) {
        let mut put = Vec::new();
        let mut del = Vec::new();
        for (u, r) in &after.users {
            let was = before.users.get(u).map(|w| &**w);
            if r.is_empty() {
                if was.is_some() {
                    del.push(self.user_key(u));
                }
            } else if was != Some(r) {
                let links: Vec<&String> = r.live_calls().collect();
                put.push((self.user_key(u), json(r), json(&links)));
            }
        }
        for (c, r) in &after.calls {
            if before.calls.get(c).map(|w| &**w) != Some(r) {
                put.push((self.call_key(c), json(r), json(&[&r.caller, &r.callee])));
            }
        }
        let gone_users = before
            .users
            .keys()
            .filter(|u| !after.users.contains_key(*u));
        del.extend(gone_users.map(|u| self.user_key(u)));
        let gone_calls = before
            .calls
            .keys()
            .filter(|c| !after.calls.contains_key(*c));
        del.extend(gone_calls.map(|c| self.call_key(c)));
        (put, del)
    }

    /// Sorts a decision's outputs for the commit.
    fn sort(&self, outputs: Vec<Output>) -> Sorted {
        let mut s = Sorted::default();
        for o in outputs {
            match o {
                o @ (Output::CallFinished(_) | Output::Presence { .. }) => s.later.push(o),
                Output::Deliver {
                    user,
                    audience,
                    event,
                } => {
                    let (meta, log) = self.log.keys(&user);
                    let (kind, conn) = audience_fields(&audience);
                    let conn = conn.to_owned();
                    s.data.push(event.data_json());
                    // ARGV[1] is the JSON, so the n-th data is ARGV[n + 1].
                    let arg = s.data.len() + 1;
                    s.events
                        .push((meta, log, kind, conn, event.name().to_owned(), arg, user));
                }
                Output::Timer { at, timer } => {
                    s.earliest = Some(s.earliest.map_or(at, |e| e.min(at)));
                    let member = serde_json::to_string(&timer).unwrap_or_default();
                    s.timers.push((at.to_string(), member));
                }
                Output::Ephemeral { user, event } => s.ephemeral.push((user, event)),
            }
        }
        s
    }

    /// Charges `rate` (when given) and loads the closure of `seeds`: one round trip
    /// (load.lua follows the records' links), then more only for links it could not
    /// follow (records written before links were).
    async fn load(&self, seeds: &Scope, rate: Option<RateCharge<'_>>) -> Result<Loaded, Error> {
        let args = LoadArgs {
            rate: rate.map(|r| self.rate_args(r)),
            pre: &self.prefix,
            users: &seeds.users,
            calls: &seeds.calls,
        };
        let mut con = self.con.clone();
        let out: Vec<Value> = self
            .load
            .arg(serde_json::to_string(&args).unwrap_or_default())
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        if out.first().map_or(0, as_u64) == 0 {
            return Err(rate_limited(out.get(1).map_or(1000, as_u64)));
        }
        let mut loaded = Loaded::default();
        for row in &out[1..] {
            let Value::Array(row) = row else { continue };
            let field = |i: usize| row.get(i).and_then(text).unwrap_or_default();
            let (kind, id, version, json) = (field(0), field(1), field(2), field(3));
            let key = record_key(&self.prefix, kind, id);
            let read = (
                version.parse().unwrap_or(0),
                Some(json).filter(|j| !j.is_empty()),
            );
            self.read_record(&mut loaded, kind == "user", key, id.to_owned(), read)?;
        }
        self.fill(seeds, &mut loaded).await?;
        Ok(loaded)
    }

    /// Adds what was read at `key` to `loaded`: its version (0: absent) and, when it is
    /// there, its record.
    fn read_record(
        &self,
        loaded: &mut Loaded,
        is_user: bool,
        key: String,
        id: String,
        (version, json): (u64, Option<&str>),
    ) -> Result<(), Error> {
        loaded.versions.insert(key.clone(), version);
        let Some(json) = json else { return Ok(()) };
        let bad = |e: serde_json::Error| {
            tracing::error!(key = %key, error = %e, "unreadable record");
            Error::Unavailable("an unreadable record in Redis".into())
        };
        if is_user {
            let r: UserRecord = serde_json::from_str(json).map_err(bad)?;
            loaded.records.users.insert(id, Arc::new(r));
        } else {
            let r: Call = serde_json::from_str(json).map_err(bad)?;
            loaded.records.calls.insert(id, Arc::new(r));
        }
        loaded.sizes.insert(key, json.len());
        Ok(())
    }

    /// Loads what the closure of `seeds` needs and `loaded` lacks, one round trip per
    /// step of `Scope::closure_step` that finds something missing (none when the links
    /// were complete).
    async fn fill(&self, seeds: &Scope, loaded: &mut Loaded) -> Result<(), Error> {
        for step in 0..3 {
            // Step 1 follows the seed users' calls only (load.lua also brought the
            // parties of the calls, whose other calls are not in the closure).
            let next = seeds.closure_step(&loaded.records, step);
            let keys: Vec<(bool, String, String)> = next
                .users
                .into_iter()
                .map(|u| (true, self.user_key(&u), u))
                .chain(
                    next.calls
                        .into_iter()
                        .map(|c| (false, self.call_key(&c), c)),
                )
                .filter(|(_, k, _)| !loaded.versions.contains_key(k))
                .collect();
            if keys.is_empty() {
                continue;
            }
            let mut con = self.con.clone();
            let rows: Vec<Option<String>> = redis::cmd("MGET")
                .arg(keys.iter().map(|(_, k, _)| k).collect::<Vec<_>>())
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            for ((is_user, key, id), row) in keys.into_iter().zip(rows) {
                let read = row.as_deref().map_or((0, None), stored_record);
                self.read_record(loaded, is_user, key, id, read)?;
            }
        }
        Ok(())
    }
}

/// A stored record, "version\nlinks\nrecord" (commit.lua writes it): its version and
/// its JSON.
pub(super) fn stored_record(s: &str) -> (u64, Option<&str>) {
    let mut parts = s.splitn(3, '\n');
    let version = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    (version, parts.nth(1))
}

/// Records made shared (moved, not copied), as the copies keep them.
fn share(records: Records) -> Shared {
    Records {
        users: records
            .users
            .into_iter()
            .map(|(id, r)| (id, Arc::new(r)))
            .collect(),
        calls: records
            .calls
            .into_iter()
            .map(|(id, r)| (id, Arc::new(r)))
            .collect(),
    }
}

/// A value as JSON text.
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
