//! Cluster mode (feature `cluster`): the core's state in Redis, shared by every node,
//! so that any node may take any request.
//!
//! Each request runs as an optimistic transaction:
//!
//! 1. load the records of the request's closure (`pqcall_signaling::records`): one
//!    hash per user and per call, `{prefix}:u:{user}` / `{prefix}:c:{call}` with a
//!    version `v` and the JSON record `d`;
//! 2. run the core's operation on a scratch core holding only those records;
//! 3. commit with one Lua script that checks every loaded version, then writes the
//!    changed records, appends the events to the users' logs (publishing them for live
//!    delivery), schedules timers, all or nothing. A changed version means another
//!    node got there first: load again and rerun.
//!
//! So the state machine applies each request exactly once, whichever node it reaches.
//! Timers live in the sorted set `{prefix}:timers`; every node fires due ones through
//! the same transaction, which also removes the timer, so a ring timeout takes effect
//! once in the whole cluster. Tickets, the per-user request rate (GCRA) and the
//! per-user stream cap are Redis keys too.
//!
//! Every open stream is also a lease in `{prefix}:streams`, which its node renews. The
//! lease is written by the same commit that counts the stream open in the core
//! (`Core::connect`), and removed by the one that counts it closed (`Core::disconnect`),
//! which commits nothing if the lease is already gone: so a stream is closed exactly
//! once, by its node when it ends, or, when its node dies or cannot reach Redis to close
//! it, by whichever node claims the expired lease. The connections then enter their
//! grace period and their calls end as they would on one node.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pqcall_signaling::{
    Call, CallState, Core, CoreConfig, Error, Event, Output, Records, Scope, Timer, UserRecord,
};
use redis::aio::ConnectionManager;
use redis::{Script, Value};
use serde_json::json;
use tokio::sync::Notify;

use crate::hub::OpenStream;
use crate::redis_log::{PROLOGUE, RedisLog, as_u64, audience_fields, unavailable};
use crate::state::{AppState, now_ms};

/// How long records live without a write (a safety net for records a dead node left).
const RECORD_TTL_SECS: u64 = 7 * 24 * 3600;

/// Transactions give up after this many conflicts in a row (503 `unavailable`).
const MAX_ATTEMPTS: usize = 64;

const COMMIT: &str = r#"
local a = cjson.decode(ARGV[1])
for _, c in ipairs(a.check) do
  local v = tonumber(redis.call('HGET', c[1], 'v') or '0')
  if v ~= tonumber(c[2]) then return {0} end
end
if a.claim ~= cjson.null and redis.call('ZREM', a.skey, a.claim) == 0 then return {2} end
if #a.put > 0 then
  local ver = redis.call('INCR', a.vkey)
  for _, p in ipairs(a.put) do
    redis.call('HSET', p[1], 'v', ver, 'd', p[2])
    redis.call('EXPIRE', p[1], a.rttl)
  end
end
for _, k in ipairs(a.del) do redis.call('DEL', k) end
if a.fired ~= nil and a.fired ~= cjson.null then redis.call('ZREM', a.tkey, a.fired) end
for _, t in ipairs(a.tadd) do redis.call('ZADD', a.tkey, t[1], t[2]) end
for _, g in ipairs(a.gauge) do redis.call('HINCRBY', a.gkey, g[1], g[2]) end
if a.hold ~= cjson.null then redis.call('ZADD', a.skey, a.hold[1], a.hold[2]) end
local out = {1}
local now, max, age, ttl = tonumber(a.now), tonumber(a.max), tonumber(a.age), tonumber(a.ttl)
for _, e in ipairs(a.ev) do
  local r = append(e[1], e[2], now, max, age, ttl, e[3], e[4], e[5], e[6], a.chan, e[7])
  table.insert(out, r[2])
end
return out
"#;

/// GCRA: one request per `interval` ms, `burst` at once. Returns 0, or the ms to wait.
const RATE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local over = new_tat - now - interval * burst
if over > 0 then return math.ceil(over) end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
return 0
"#;

/// A stream's slot in the per-user cap: 1 when taken, 0 when the cap is reached.
const LEASE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"#;

/// The core's state in Redis, and the cluster-wide tickets, rates and stream caps.
pub struct Shared {
    log: Arc<RedisLog>,
    con: ConnectionManager,
    prefix: String,
    core: CoreConfig,
    commit: Script,
    rate: Script,
    lease: Script,
    /// Woken when this node schedules a timer, so the timer loop looks again.
    timer_added: Notify,
    /// This process, in stream lease names.
    node: String,
    /// How long a stream's lease lives without renewal.
    lease_ms: u64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// What a transaction does to a stream's lease, in the same commit.
enum LeaseChange {
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
fn committed<R>(done: Option<R>) -> Result<R, Error> {
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

impl Shared {
    /// Shares `log`'s connection and key prefix; streams' leases last `lease_ms`.
    pub fn new(log: Arc<RedisLog>, core: CoreConfig, lease_ms: u64) -> Self {
        let with_prologue = Script::new(&format!("{PROLOGUE}\n{COMMIT}"));
        Shared {
            con: log.connection(),
            prefix: log.prefix().to_owned(),
            log,
            core,
            commit: with_prologue,
            rate: Script::new(RATE),
            lease: Script::new(LEASE),
            timer_added: Notify::new(),
            node: crate::auth::random_hex32(),
            lease_ms,
        }
    }

    fn user_key(&self, user: &str) -> String {
        format!("{}:u:{user}", self.prefix)
    }

    fn call_key(&self, call: &str) -> String {
        format!("{}:c:{call}", self.prefix)
    }

    fn streams_key(&self) -> String {
        format!("{}:streams", self.prefix)
    }

    /// A stream's member in `{prefix}:streams`: user, connection, node, stream number.
    fn stream_member(&self, user: &str, conn: &str, sub: u64) -> String {
        json!([user, conn, self.node, sub]).to_string()
    }

    fn gauges_key(&self) -> String {
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

    fn timers_key(&self) -> String {
        format!("{}:timers", self.prefix)
    }

    /// Loads the closure of `seeds`, in three round trips at most.
    async fn load(&self, seeds: &Scope) -> Result<Loaded, Error> {
        let mut loaded = Loaded::default();
        for step in 0..3 {
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
            let mut pipe = redis::pipe();
            for (_, k, _) in &keys {
                pipe.cmd("HMGET").arg(k).arg("v").arg("d");
            }
            let mut con = self.con.clone();
            let rows: Vec<Vec<Value>> = pipe.query_async(&mut con).await.map_err(unavailable)?;
            for ((is_user, key, id), row) in keys.into_iter().zip(rows) {
                let version = row.first().map_or(0, as_u64);
                loaded.versions.insert(key.clone(), version);
                let Some(json) = row.get(1).and_then(text) else {
                    continue;
                };
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
            }
        }
        Ok(loaded)
    }

    /// Runs `op` on the closure of `seeds` and commits its effects, exactly once.
    /// `fired` is a due timer's member in the timer set, removed by the same commit.
    pub async fn transact<R, F>(&self, seeds: Scope, fired: Option<&str>, op: F) -> Result<R, Error>
    where
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error>,
    {
        let done = self.transact_with(seeds, fired, op, |_| LeaseChange::Keep);
        committed(done.await?)
    }

    /// [`transact`](Self::transact) that also changes a stream's lease (chosen from
    /// `op`'s result) in the same commit. `None` when it was to claim a lease that is
    /// gone: then nothing was committed.
    async fn transact_with<R, F, L>(
        &self,
        seeds: Scope,
        fired: Option<&str>,
        op: F,
        lease: L,
    ) -> Result<Option<R>, Error>
    where
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error>,
        L: Fn(&R) -> LeaseChange,
    {
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.load(&seeds).await?;
            let mut gauges = Gauges::default();
            gauges.count(&loaded.records, -1);
            let mut core = Core::new(self.core.clone());
            core.import(loaded.records);
            let (result, outputs) = op(&mut core)?;
            let after = core.export();
            gauges.count(&after, 1);

            // (key, JSON) to write, keys to delete: only what changed.
            let mut put: Vec<(String, String)> = Vec::new();
            let mut del = Vec::new();
            let mut write = |key: String, json: Option<String>| match json {
                Some(j) if loaded.json.get(&key) != Some(&j) => put.push((key, j)),
                Some(_) => {}
                None if loaded.json.contains_key(&key) => del.push(key),
                None => {}
            };
            let mut seen = std::collections::BTreeSet::new();
            for (u, r) in &after.users {
                let key = self.user_key(u);
                seen.insert(key.clone());
                let json = (!r.is_empty()).then(|| serde_json::to_string(r).unwrap_or_default());
                write(key, json);
            }
            for (c, r) in &after.calls {
                let key = self.call_key(c);
                seen.insert(key.clone());
                write(key, Some(serde_json::to_string(r).unwrap_or_default()));
            }
            for key in loaded.json.keys() {
                if !seen.contains(key) {
                    write(key.clone(), None);
                }
            }
            // New records (a new call) are checked to be absent.
            let mut check: Vec<serde_json::Value> =
                loaded.versions.iter().map(|(k, v)| json!([k, v])).collect();
            for (k, _) in &put {
                if !loaded.versions.contains_key(k) {
                    check.push(json!([k, 0]));
                }
            }

            let mut events = Vec::new();
            let mut timers = Vec::new();
            let mut ephemeral = Vec::new();
            for o in outputs {
                match o {
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
                self.timer_added.notify_one();
            }
            for (user, event) in ephemeral {
                self.publish_ephemeral(&user, &event).await?;
            }
            return Ok(Some(result));
        }
        Err(Error::Unavailable("too much contention; try again".into()))
    }

    /// Takes one of the user's stream slots, or says the cap is reached.
    pub async fn take_stream_slot(&self, user: &str, sub: u64, cap: usize) -> Result<bool, Error> {
        let mut con = self.con.clone();
        let r: i64 = self
            .lease
            .key(format!("{}:st:{user}", self.prefix))
            .arg(cap)
            .arg(format!("{}:{sub}", self.node))
            .arg(self.lease_ms)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(r == 1)
    }

    /// Gives a stream's slot back.
    pub async fn release_stream_slot(&self, user: &str, sub: u64) {
        let mut con = self.con.clone();
        let r = redis::cmd("ZREM")
            .arg(format!("{}:st:{user}", self.prefix))
            .arg(format!("{}:{sub}", self.node))
            .query_async::<i64>(&mut con)
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "releasing a stream slot (it expires by itself)");
        }
    }

    /// Opens a stream of `user` in the core (`Core::connect`, reusing `want` if it is
    /// still known) and, in the same commit, its lease, which this node renews.
    /// Returns the stream's connection id.
    pub async fn open_stream(
        &self,
        now: u64,
        user: &str,
        want: Option<&str>,
        sub: u64,
    ) -> Result<String, Error> {
        let connect = |core: &mut Core| {
            let conn = core.connect(now, user, want, false).0.conn_id;
            Ok((conn, Vec::new()))
        };
        let hold = |conn: &String| LeaseChange::Hold(self.stream_member(user, conn, sub));
        let done = self.transact_with(Scope::users([user]), None, connect, hold);
        committed(done.await?)
    }

    /// Counts a stream of this node closed in the core, unless another node already
    /// did (after its lease expired). On error the lease stays and expires, and then
    /// some node closes the stream.
    pub async fn close_stream(&self, user: &str, conn: &str, sub: u64) -> Result<bool, Error> {
        self.close_leased(self.stream_member(user, conn, sub), user, conn)
            .await
    }

    /// `Core::disconnect` of `conn`, committed only with the removal of its lease
    /// `member`: true when this call removed it.
    async fn close_leased(&self, member: String, user: &str, conn: &str) -> Result<bool, Error> {
        let disconnect = |core: &mut Core| Ok(((), core.disconnect(now_ms(), conn)));
        let claim = |_: &()| LeaseChange::Claim(member.clone());
        let done = self
            .transact_with(Scope::users([user]), None, disconnect, claim)
            .await?;
        Ok(done.is_some())
    }

    /// Renews the slots and leases of this node's open streams. A lease another node
    /// already took over (this node was cut off too long) is not brought back.
    async fn renew_streams(&self, streams: Vec<OpenStream>) -> Result<(), Error> {
        if streams.is_empty() {
            return Ok(());
        }
        let at = now_ms() + self.lease_ms;
        let mut pipe = redis::pipe();
        for s in streams {
            let key = format!("{}:st:{}", self.prefix, s.user);
            pipe.cmd("ZADD")
                .arg(&key)
                .arg(at)
                .arg(format!("{}:{}", self.node, s.sub))
                .ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(self.lease_ms).ignore();
            pipe.cmd("ZADD")
                .arg(self.streams_key())
                .arg("XX")
                .arg(at)
                .arg(self.stream_member(&s.user, &s.conn, s.sub))
                .ignore();
        }
        let mut con = self.con.clone();
        pipe.query_async::<()>(&mut con).await.map_err(unavailable)
    }

    /// Closes, in the core, streams whose lease expired (their node died, lost Redis,
    /// or could not close them): each by a commit that also removes its lease, so one
    /// node closes it, once. Returns how many it closed.
    async fn reap_streams(&self, now: u64) -> Result<usize, Error> {
        let mut con = self.con.clone();
        let expired: Vec<String> = due_members(&self.streams_key(), now)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let mut closed = 0;
        for member in expired {
            let Ok((user, conn, _, _)) =
                serde_json::from_str::<(String, String, String, u64)>(&member)
            else {
                tracing::warn!("dropping an unreadable stream lease");
                redis::cmd("ZREM")
                    .arg(self.streams_key())
                    .arg(&member)
                    .query_async::<i64>(&mut con)
                    .await
                    .map_err(unavailable)?;
                continue;
            };
            // On error the lease stays due, for the next round on any node.
            if self.close_leased(member, &user, &conn).await? {
                closed += 1;
            }
        }
        Ok(closed)
    }

    /// The cluster-wide request rate: `per_sec` requests a second, `burst` at once.
    pub async fn check_rate(&self, user: &str, per_sec: u32, burst: u32) -> Result<(), Error> {
        let mut con = self.con.clone();
        let wait_ms: u64 = self
            .rate
            .key(format!("{}:rl:{user}", self.prefix))
            .arg(1000.0 / f64::from(per_sec.max(1)))
            .arg(burst.max(1))
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        if wait_ms == 0 {
            Ok(())
        } else {
            Err(Error::RateLimited {
                what: "requests per second",
                retry_after_secs: wait_ms.div_ceil(1000).max(1),
            })
        }
    }

    /// Stores a single-use SSE ticket.
    pub async fn put_ticket(&self, ticket: &str, user: &str, ttl_ms: u64) -> Result<(), Error> {
        let mut con = self.con.clone();
        redis::cmd("SET")
            .arg(format!("{}:tk:{ticket}", self.prefix))
            .arg(user)
            .arg("PX")
            .arg(ttl_ms)
            .query_async::<()>(&mut con)
            .await
            .map_err(unavailable)
    }

    /// Redeems a ticket once, on whichever node.
    pub async fn take_ticket(&self, ticket: &str) -> Result<Option<String>, Error> {
        let mut con = self.con.clone();
        redis::cmd("GETDEL")
            .arg(format!("{}:tk:{ticket}", self.prefix))
            .query_async::<Option<String>>(&mut con)
            .await
            .map_err(unavailable)
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

    /// Due timers, oldest first, and when the next one is due.
    async fn due_timers(&self, now: u64) -> Result<(Vec<String>, Option<u64>), Error> {
        let mut con = self.con.clone();
        let (due, next): (Vec<String>, Vec<(String, f64)>) = redis::pipe()
            .add_command(due_members(&self.timers_key(), now))
            .cmd("ZRANGE")
            .arg(self.timers_key())
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok((due, next.first().map(|(_, at)| *at as u64)))
    }

    /// Fires one due timer (any node may; the commit makes it count once).
    async fn fire(&self, member: &str) -> Result<(), Error> {
        let Some((timer, seeds)) = serde_json::from_str::<Timer>(member)
            .ok()
            .and_then(|t| Scope::of_timer(&t).map(|s| (t, s)))
        else {
            tracing::warn!("dropping an unreadable timer");
            return self
                .transact(Scope::default(), Some(member), |_| Ok(((), Vec::new())))
                .await;
        };
        self.transact(seeds, Some(member), |core| {
            Ok(((), core.on_timer(now_ms(), &timer)))
        })
        .await
    }
}

/// Up to 64 members of the sorted set `key` whose score (a time in ms) is `now` or
/// earlier, oldest first.
fn due_members(key: &str, now: u64) -> redis::Cmd {
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

/// The timer and lease loop of one node: fires due timers from the shared set,
/// renews this node's stream leases and closes streams whose lease expired, until
/// shutdown.
pub async fn run_timers(state: AppState, shared: Arc<Shared>) {
    let shutdown = state.shutdown_token();
    let mut renew_at = 0;
    loop {
        let now = now_ms();
        if now >= renew_at {
            renew_at = now + shared.lease_ms / 3;
            if let Err(e) = shared.renew_streams(state.0.hub.all_streams()).await {
                tracing::warn!(error = %e, "renewing stream leases");
            }
            match shared.reap_streams(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(streams = n, "closed streams of a node that went away"),
                Err(e) => tracing::warn!(error = %e, "closing expired streams"),
            }
        }
        let wait = match shared.due_timers(now).await {
            Ok((due, next)) => {
                let mut failed = false;
                for member in &due {
                    if let Err(e) = shared.fire(member).await {
                        tracing::warn!(error = %e, "firing a timer");
                        failed = true;
                    }
                }
                match (due.is_empty(), failed) {
                    (_, true) => 500,
                    (false, false) => 0,
                    (true, false) => next.map_or(500, |at| at.saturating_sub(now).min(500)),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading timers");
                500
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = shared.timer_added.notified() => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
