//! The core's records in Redis and the optimistic transaction that changes them; the
//! cluster-wide tickets, request rates and gauges.

use std::collections::BTreeMap;
use std::sync::Arc;

use pqcall_signaling::{
    Call, CallState, Core, CoreConfig, Error, Event, Output, Records, Scope, UserRecord,
};
use redis::aio::ConnectionManager;
use redis::{Script, Value};
use serde_json::json;
use tokio::sync::Notify;

use super::log::{PROLOGUE, RedisLog, as_u64, audience_fields, unavailable};
use crate::clock::now_ms;

/// How long records live without a write (a safety net for records a dead node left).
const RECORD_TTL_SECS: u64 = 7 * 24 * 3600;

/// Transactions give up after this many conflicts in a row (503 `unavailable`).
const MAX_ATTEMPTS: usize = 64;

const COMMIT: &str = include_str!("commit.lua");

/// GCRA: `charge(key, interval, burst, cost)`, 0 or the ms to wait.
const RATE: &str = include_str!("rate.lua");

/// A request's records in one round trip, after charging its rate.
const LOAD: &str = include_str!("load.lua");

/// A request's charge against its user's rate: the user, `(per second, burst)`, and what
/// this request counts as.
pub(super) type RateCharge<'a> = (&'a str, (u32, u32), u32);

/// A stream's slot in the per-user cap: 1 when taken, 0 when the cap is reached.
const LEASE: &str = include_str!("lease.lua");

/// The core's state in Redis, and the cluster-wide tickets, rates and stream caps.
pub struct Cluster {
    pub(super) log: Arc<RedisLog>,
    pub(super) con: ConnectionManager,
    pub(super) prefix: String,
    pub(super) core: CoreConfig,
    pub(super) commit: Script,
    pub(super) rate: Script,
    pub(super) load: Script,
    pub(super) lease: Script,
    /// Woken when this node schedules a timer due before the timer loop's next look.
    pub(super) timer_added: Notify,
    /// The earliest time (Unix ms) of the timers this node scheduled since the timer
    /// loop last took it (`u64::MAX`: none).
    pub(super) earliest_added: std::sync::atomic::AtomicU64,
    /// This process, in stream lease names.
    pub(super) node: String,
    /// How long a stream's lease lives without renewal.
    pub(super) lease_ms: u64,
    /// Where finished calls and presence changes go (docs/PROTOCOL.md §9); without
    /// one they are dropped (tests of the records alone).
    pub(super) store: Option<Arc<dyn crate::store::ChatStore>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("prefix", &self.prefix)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// What a transaction does to a stream's lease, in the same commit.
pub(super) enum LeaseChange {
    /// Nothing.
    Keep,
    /// Adds this lease (a stream opened).
    Hold(String),
    /// Removes this lease, and commits nothing if it is not there (a stream closed,
    /// and no other node closed it first).
    Claim(String),
}

/// The result of a commit that claimed no lease, which always goes through when it
/// returns (only a claim can find nothing to commit).
pub(super) fn committed<R>(done: Option<R>) -> Result<R, Error> {
    done.ok_or_else(|| Error::Unavailable("a commit lost a lease it did not claim".into()))
}

/// The gauge of connections in `{prefix}:gauges`.
const CONNECTIONS: &str = "connections";

/// The gauge of calls in `state` in `{prefix}:gauges`.
fn calls_field(state: CallState) -> String {
    format!("calls:{}", state.as_str())
}

/// How a transaction changes the cluster-wide gauges: the records before it count
/// negative, those after it positive.
#[derive(Default)]
struct Gauges(BTreeMap<String, i64>);

impl Gauges {
    fn count(&mut self, records: &Records, sign: i64) {
        let conns: usize = records.users.values().map(UserRecord::connections).sum();
        *self.0.entry(CONNECTIONS.into()).or_default() += sign * conns as i64;
        for call in records.calls.values() {
            *self.0.entry(calls_field(call.state)).or_default() += sign;
        }
    }

    /// The fields that changed, and by how much.
    fn changes(&self) -> Vec<(&str, i64)> {
        let changed = self.0.iter().filter(|(_, d)| **d != 0);
        changed.map(|(k, d)| (k.as_str(), *d)).collect()
    }
}

/// What a load found: the records, and the version of every key looked at (0 when
/// missing), which the commit checks.
#[derive(Default)]
struct Loaded {
    records: Records,
    versions: BTreeMap<String, u64>,
    json: BTreeMap<String, String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

impl Cluster {
    /// Shares `log`'s connection and key prefix; streams' leases last `lease_ms`.
    pub fn new(log: Arc<RedisLog>, core: CoreConfig, lease_ms: u64) -> Self {
        let with_prologue = Script::new(&format!("{PROLOGUE}\n{COMMIT}"));
        Cluster {
            con: log.connection(),
            prefix: log.prefix().to_owned(),
            log,
            core,
            commit: with_prologue,
            rate: Script::new(&format!(
                "{RATE}\nreturn charge(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))"
            )),
            load: Script::new(&format!("{RATE}\n{LOAD}")),
            lease: Script::new(LEASE),
            timer_added: Notify::new(),
            earliest_added: std::sync::atomic::AtomicU64::new(u64::MAX),
            node: crate::auth::random_hex32(),
            lease_ms,
            store: None,
        }
    }

    pub(super) fn user_key(&self, user: &str) -> String {
        format!("{}:u:{user}", self.prefix)
    }

    pub(super) fn call_key(&self, call: &str) -> String {
        format!("{}:c:{call}", self.prefix)
    }

    pub(super) fn streams_key(&self) -> String {
        format!("{}:streams", self.prefix)
    }

    /// A stream's member in `{prefix}:streams`: user, connection, node, stream number.
    pub(super) fn stream_member(&self, user: &str, conn: &str, stream_no: u64) -> String {
        json!([user, conn, self.node, stream_no]).to_string()
    }

    pub(super) fn gauges_key(&self) -> String {
        format!("{}:gauges", self.prefix)
    }

    /// Cluster-wide counts, kept by every commit: connections (open or in their grace
    /// period) and calls by state.
    pub async fn gauges(&self) -> Result<(u64, Vec<(CallState, u64)>), Error> {
        let mut con = self.con.clone();
        let all: BTreeMap<String, i64> = redis::cmd("HGETALL")
            .arg(self.gauges_key())
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let get = |k: &str| all.get(k).copied().unwrap_or(0).max(0).unsigned_abs();
        let calls = CallState::ALL
            .iter()
            .map(|s| (*s, get(&calls_field(*s))))
            .collect();
        Ok((get(CONNECTIONS), calls))
    }

    pub(super) fn timers_key(&self) -> String {
        format!("{}:timers", self.prefix)
    }

    /// The arguments of rate.lua's `charge` for `charge`: the user's rate key, the ms
    /// between requests, the burst, and the cost (at most the burst).
    fn rate_args(&self, (user, (per_sec, burst), cost): RateCharge<'_>) -> (String, f64, u32, u32) {
        let burst = burst.max(1);
        (
            format!("{}:rl:{user}", self.prefix),
            1000.0 / f64::from(per_sec.max(1)),
            burst,
            cost.clamp(1, burst),
        )
    }

    /// Charges `rate` (when given) and loads the closure of `seeds`: one round trip
    /// (load.lua follows the records' links), then more only for links it could not
    /// follow (records written before links were).
    async fn load(&self, seeds: &Scope, rate: Option<RateCharge<'_>>) -> Result<Loaded, Error> {
        let args = json!({
            "rate": rate.map(|r| self.rate_args(r)),
            "pre": self.prefix,
            "users": seeds.users,
            "calls": seeds.calls,
        });
        let mut con = self.con.clone();
        let out: Vec<Value> = self
            .load
            .arg(args.to_string())
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
            let key = format!("{}:{kind}:{id}", self.prefix);
            loaded
                .versions
                .insert(key.clone(), version.parse().unwrap_or(0));
            if !json.is_empty() {
                self.read_record(&mut loaded, kind == "u", key, id, json)?;
            }
        }
        self.fill(seeds, &mut loaded).await?;
        Ok(loaded)
    }

    /// Adds one record read from `key` to `loaded`.
    fn read_record(
        &self,
        loaded: &mut Loaded,
        is_user: bool,
        key: String,
        id: String,
        json: String,
    ) -> Result<(), Error> {
        let bad = |e: serde_json::Error| {
            tracing::error!(key = %key, error = %e, "unreadable record");
            Error::Unavailable("an unreadable record in Redis".into())
        };
        if is_user {
            let r: UserRecord = serde_json::from_str(&json).map_err(bad)?;
            loaded.records.users.insert(id, r);
        } else {
            let r: Call = serde_json::from_str(&json).map_err(bad)?;
            loaded.records.calls.insert(id, r);
        }
        loaded.json.insert(key, json);
        Ok(())
    }

    /// Loads what the closure of `seeds` needs and `loaded` lacks, one round trip per
    /// step of `Scope::closure_step` that finds something missing (none when the links
    /// were complete).
    async fn fill(&self, seeds: &Scope, loaded: &mut Loaded) -> Result<(), Error> {
        for step in 0..3 {
            // Step 1 follows the seed users' calls only (load.lua also brought the
            // parties of the calls, whose other calls are not in the closure).
            let next = if step == 1 {
                let seed_users = seeds
                    .users
                    .iter()
                    .filter_map(|u| Some((u.clone(), loaded.records.users.get(u)?.clone())));
                let view = Records {
                    users: seed_users.collect(),
                    calls: loaded.records.calls.clone(),
                };
                seeds.closure_step(&view, step)
            } else {
                seeds.closure_step(&loaded.records, step)
            };
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
            let mut pipe = redis::pipe();
            for (_, k, _) in &keys {
                pipe.cmd("HMGET").arg(k).arg("v").arg("d");
            }
            let mut con = self.con.clone();
            let rows: Vec<Vec<Value>> = pipe.query_async(&mut con).await.map_err(unavailable)?;
            for ((is_user, key, id), row) in keys.into_iter().zip(rows) {
                let version = row.first().map_or(0, as_u64);
                loaded.versions.insert(key.clone(), version);
                if let Some(json) = row.get(1).and_then(text) {
                    self.read_record(loaded, is_user, key, id, json)?;
                }
            }
        }
        Ok(())
    }

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
    /// (429 `rate_limited`, nothing done), in the same round trip as the load.
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
        // The rate is charged once, by the first load, whatever the retries.
        let mut rate = rate;
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.load(&seeds, rate.take()).await?;
            let mut gauges = Gauges::default();
            gauges.count(&loaded.records, -1);
            let mut core = Core::new(self.core.clone());
            core.import(loaded.records);
            let (result, outputs) = op(&mut core)?;
            let after = core.export();
            gauges.count(&after, 1);

            // (key, JSON, links) to write, keys to delete: only what changed. The links
            // are what load.lua follows: a user's live calls, a call's parties.
            let mut put: Vec<(String, String, String)> = Vec::new();
            let mut del = Vec::new();
            let mut write = |key: String, json: Option<String>, links: String| match json {
                Some(j) if loaded.json.get(&key) != Some(&j) => put.push((key, j, links)),
                Some(_) => {}
                None if loaded.json.contains_key(&key) => del.push(key),
                None => {}
            };
            let mut seen = std::collections::BTreeSet::new();
            for (u, r) in &after.users {
                let key = self.user_key(u);
                seen.insert(key.clone());
                let json = (!r.is_empty()).then(|| serde_json::to_string(r).unwrap_or_default());
                let links: Vec<&String> = r.live_calls().collect();
                write(key, json, json!(links).to_string());
            }
            for (c, r) in &after.calls {
                let key = self.call_key(c);
                seen.insert(key.clone());
                let links = json!([r.caller, r.callee]).to_string();
                write(
                    key,
                    Some(serde_json::to_string(r).unwrap_or_default()),
                    links,
                );
            }
            for key in loaded.json.keys() {
                if !seen.contains(key) {
                    write(key.clone(), None, String::new());
                }
            }
            // New records (a new call) are checked to be absent.
            let mut check: Vec<serde_json::Value> =
                loaded.versions.iter().map(|(k, v)| json!([k, v])).collect();
            for (k, _, _) in &put {
                if !loaded.versions.contains_key(k) {
                    check.push(json!([k, 0]));
                }
            }

            let mut events = Vec::new();
            let mut timers = Vec::new();
            let mut earliest = u64::MAX;
            let mut ephemeral = Vec::new();
            let mut later = Vec::new();
            for o in outputs {
                match o {
                    o @ (Output::CallFinished(_) | Output::Presence { .. }) => later.push(o),
                    Output::Deliver {
                        user,
                        audience,
                        event,
                    } => {
                        let (meta, log) = self.log.keys(&user);
                        let (aud, conn) = audience_fields(&audience);
                        events.push(json!([
                            meta,
                            log,
                            aud,
                            conn,
                            event.name(),
                            event.data_json(),
                            user
                        ]));
                    }
                    Output::Timer { at, timer } => {
                        earliest = earliest.min(at);
                        let member = serde_json::to_string(&timer).unwrap_or_default();
                        timers.push(json!([at.to_string(), member]));
                    }
                    Output::Ephemeral { user, event } => ephemeral.push((user, event)),
                }
            }
            let (hold, claim) = match lease(&result) {
                LeaseChange::Keep => (None, None),
                LeaseChange::Hold(m) => (Some(json!([now_ms() + self.lease_ms, m])), None),
                LeaseChange::Claim(m) => (None, Some(m)),
            };
            let cfg = self.log.log_config();
            let args = json!({
                "skey": self.streams_key(),
                "hold": hold,
                "claim": claim,
                "gkey": self.gauges_key(),
                "gauge": gauges.changes(),
                "check": check,
                "put": put,
                "del": del,
                "vkey": format!("{}:version", self.prefix),
                "rttl": RECORD_TTL_SECS,
                "fired": fired,
                "tkey": self.timers_key(),
                "tadd": timers,
                "ev": events,
                "now": now_ms().to_string(),
                "max": cfg.max_events,
                "age": cfg.max_age_ms,
                "maxbytes": cfg.max_bytes,
                "ttl": self.log.ttl_secs(),
                "chan": self.log.channel(),
            });
            let mut con = self.con.clone();
            let r: Vec<Value> = self
                .commit
                .arg(args.to_string())
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            match r.first().map_or(0, as_u64) {
                1 => {}
                2 => return Ok(None),
                _ => {
                    tracing::debug!("transaction conflict: retrying");
                    continue;
                }
            }
            if !timers.is_empty() {
                let order = std::sync::atomic::Ordering::SeqCst;
                self.earliest_added.fetch_min(earliest, order);
                self.timer_added.notify_one();
            }
            for (user, event) in ephemeral {
                self.publish_ephemeral(&user, &event).await?;
            }
            self.settle(later).await?;
            return Ok(Some(result));
        }
        Err(Error::Unavailable("too much contention; try again".into()))
    }

    /// The cluster-wide request rate: `per_sec` requests a second, `burst` at once; this
    /// request counts as `cost` of them (at most `burst`).
    pub async fn check_rate(
        &self,
        user: &str,
        (per_sec, burst): (u32, u32),
        cost: u32,
    ) -> Result<(), Error> {
        let (key, interval, burst, cost) = self.rate_args((user, (per_sec, burst), cost));
        let mut con = self.con.clone();
        let wait_ms: u64 = self
            .rate
            .key(key)
            .arg(interval)
            .arg(burst)
            .arg(cost)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        match wait_ms {
            0 => Ok(()),
            wait => Err(rate_limited(wait)),
        }
    }

    /// Stores a single-use SSE ticket of `user`, whose token expires at `token_exp`.
    pub async fn put_ticket(
        &self,
        ticket: &str,
        user: &str,
        token_exp: u64,
        ttl_ms: u64,
    ) -> Result<(), Error> {
        let mut con = self.con.clone();
        redis::cmd("SET")
            .arg(format!("{}:tk:{ticket}", self.prefix))
            .arg(format!("{token_exp}:{user}"))
            .arg("PX")
            .arg(ttl_ms)
            .query_async::<()>(&mut con)
            .await
            .map_err(unavailable)
    }

    /// Redeems a ticket once, on whichever node: its user and their token's expiry.
    pub async fn take_ticket(&self, ticket: &str) -> Result<Option<(String, u64)>, Error> {
        let mut con = self.con.clone();
        let value = redis::cmd("GETDEL")
            .arg(format!("{}:tk:{ticket}", self.prefix))
            .query_async::<Option<String>>(&mut con)
            .await
            .map_err(unavailable)?;
        // `<token exp>:<user>`; the user id may itself hold ':'.
        Ok(value.and_then(|v| {
            let (exp, user) = v.split_once(':')?;
            Some((user.to_owned(), exp.parse().ok()?))
        }))
    }

    /// Carries out a committed decision's outputs for the chat store (see
    /// [`settle`](crate::engine::aftermath::settle)).
    async fn settle(&self, later: Vec<Output>) -> Result<(), Error> {
        let Some(store) = self.store.as_deref().filter(|_| !later.is_empty()) else {
            return Ok(());
        };
        for o in crate::engine::aftermath::settle(store, later).await {
            if let Output::Ephemeral { user, event } = o {
                self.publish_ephemeral(&user, &event).await?;
            }
        }
        Ok(())
    }

    /// Publishes an ephemeral event (typing) to every node, without logging it.
    pub async fn publish_ephemeral(&self, user: &str, event: &Event) -> Result<(), Error> {
        self.log
            .publish_ephemeral(user, event.name(), &event.data_json())
            .await
    }

    /// Whether Redis answers.
    pub async fn ready(&self) -> bool {
        self.log.ping().await
    }
}

/// 429 `rate_limited` with the seconds to wait.
fn rate_limited(wait_ms: u64) -> Error {
    Error::RateLimited {
        what: "requests per second",
        retry_after_secs: wait_ms.div_ceil(1000).max(1),
    }
}

/// Up to 64 members of the sorted set `key` whose score (a time in ms) is `now` or
/// earlier, oldest first.
pub(super) fn due_members(key: &str, now: u64) -> redis::Cmd {
    let mut cmd = redis::cmd("ZRANGE");
    cmd.arg(key)
        .arg("-inf")
        .arg(now)
        .arg("BYSCORE")
        .arg("LIMIT")
        .arg(0)
        .arg(64);
    cmd
}
