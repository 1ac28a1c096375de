//! The core's records in Redis and the optimistic transaction that changes them; the
//! cluster-wide tickets, request rates and gauges.

use std::collections::BTreeMap;
use std::sync::Arc;

use pqcall_signaling::{CallState, CoreConfig, Error, Event, Output};
use redis::Script;
use redis::aio::ConnectionManager;
use serde_json::json;
use tokio::sync::Notify;

use super::batch::Commits;
use super::cache::{RecordCache, record_key};
use super::channels::Channels;
use super::log::{PROLOGUE, RedisLog, unavailable};
use super::script_args::CommitFixed;
use super::transaction::RECORD_TTL_SECS;
use crate::clock::now_ms;
use crate::engine::aftermath;

const COMMIT: &str = include_str!("commit.lua");

/// GCRA: `charge(key, interval, burst, cost, now)`, 0 or the ms to wait; and
/// `charge_read`, the same on the key's value already read (load.lua, commit.lua).
const RATE: &str = include_str!("rate.lua");

/// `each_chunk`: a command over any number of keys (commit.lua, load.lua).
const CHUNKS: &str = include_str!("chunks.lua");

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
    /// commit.lua, run in batches.
    pub(super) commits: Commits,
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
    /// The keys every commit names, made once.
    keys: Keys,
    /// This node's copies of records, which spare a request its load.
    pub(super) cache: RecordCache,
}

/// The cluster-wide keys under the prefix that the node names after start (commits
/// name theirs in [`CommitFixed`], made once).
struct Keys {
    streams: String,
    gauges: String,
    timers: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Keys {
            streams: format!("{prefix}:streams"),
            gauges: format!("{prefix}:gauges"),
            timers: format!("{prefix}:timers"),
        }
    }
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
pub(super) const CONNECTIONS: &str = "connections";

/// The gauge of calls in `state` in `{prefix}:gauges`.
pub(super) fn calls_field(state: CallState) -> String {
    format!("calls:{}", state.as_str())
}

impl Cluster {
    /// Shares `log`'s connection and key prefix; streams' leases last `lease_ms`.
    pub fn new(log: Arc<RedisLog>, core: CoreConfig, lease_ms: u64) -> Self {
        let keys = Keys::new(log.prefix());
        let cache = RecordCache::new(log.prefix());
        let cfg = log.log_config();
        let (version, channel_stem) = (
            format!("{}:version", log.prefix()),
            Channels::stem(log.prefix()),
        );
        let fixed = CommitFixed {
            skey: &keys.streams,
            gkey: &keys.gauges,
            vkey: &version,
            tkey: &keys.timers,
            rttl: RECORD_TTL_SECS,
            max: cfg.max_events,
            age: cfg.max_age_ms,
            maxbytes: cfg.max_bytes,
            ttl: log.ttl_secs(),
            chan: &channel_stem,
        };
        let fixed = fixed.lua();
        let commit = Script::new(&format!("{CHUNKS}\n{RATE}\n{PROLOGUE}\n{fixed}\n{COMMIT}"));
        let commits = Commits::new(commit, log.connection());
        Cluster {
            con: log.connection(),
            commits,
            prefix: log.prefix().to_owned(),
            log,
            core,
            rate: Script::new(&format!(
                "{RATE}\nreturn charge(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))"
            )),
            load: Script::new(&format!("{CHUNKS}\n{RATE}\n{LOAD}")),
            lease: Script::new(LEASE),
            timer_added: Notify::new(),
            earliest_added: std::sync::atomic::AtomicU64::new(u64::MAX),
            node: crate::auth::random_hex32(),
            lease_ms,
            store: None,
            keys,
            cache,
        }
    }

    pub(super) fn user_key(&self, user: &str) -> String {
        record_key(&self.prefix, "user", user)
    }

    pub(super) fn call_key(&self, call: &str) -> String {
        record_key(&self.prefix, "call", call)
    }

    pub(super) fn streams_key(&self) -> &str {
        &self.keys.streams
    }

    /// A stream's member in `{prefix}:streams`: user, connection, node, stream number.
    pub(super) fn stream_member(&self, user: &str, conn: &str, stream_no: u64) -> String {
        json!([user, conn, self.node, stream_no]).to_string()
    }

    pub(super) fn gauges_key(&self) -> &str {
        &self.keys.gauges
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

    pub(super) fn timers_key(&self) -> &str {
        &self.keys.timers
    }

    /// The arguments of rate.lua's `charge` for `charge`: the user's rate key, the ms
    /// between requests, the burst, the cost (at most the burst), and the time now.
    pub(super) fn rate_args(
        &self,
        (user, (per_sec, burst), cost): RateCharge<'_>,
    ) -> (String, f64, u32, u32, u64) {
        let burst = burst.max(1);
        (
            [&self.prefix, ":rl:", user].concat(),
            1000.0 / f64::from(per_sec.max(1)),
            burst,
            cost.clamp(1, burst),
            now_ms(),
        )
    }

    /// The cluster-wide request rate: `per_sec` requests a second, `burst` at once; this
    /// request counts as `cost` of them (at most `burst`).
    pub async fn check_rate(
        &self,
        user: &str,
        (per_sec, burst): (u32, u32),
        cost: u32,
    ) -> Result<(), Error> {
        let (key, interval, burst, cost, now) = self.rate_args((user, (per_sec, burst), cost));
        let mut con = self.con.clone();
        let wait_ms: u64 = self
            .rate
            .key(key)
            .arg(interval)
            .arg(burst)
            .arg(cost)
            .arg(now)
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
    pub(super) async fn settle(&self, later: Vec<Output>) -> Result<(), Error> {
        let Some(store) = self.store.as_deref().filter(|_| !later.is_empty()) else {
            return Ok(());
        };
        let events = aftermath::settle(store, later).await;
        // As on one node, a presence change a later decision reversed is not sent.
        let users = aftermath::presence_subjects(&events);
        let counts = self.connections_of(&users).await?;
        let online = |u: &str| {
            users
                .iter()
                .position(|x| x == u)
                .is_some_and(|i| counts[i] > 0)
        };
        for o in aftermath::still_true(events, online) {
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
pub(super) fn rate_limited(wait_ms: u64) -> Error {
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
