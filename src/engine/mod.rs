//! The engine: everything that differs between one node and a cluster, behind one trait.
//!
//! Handlers, the stream route and `/metrics` talk to [`Engine`] only, so each feature is
//! written once. Two implementations:
//!
//! - [`local::Local`]: the core in this process under one lock, the event log in memory,
//!   timers as tasks, tickets and request rates in memory.
//! - `cluster::Cluster` (feature `cluster`): the core's records, the log, timers,
//!   tickets, rates and stream leases in Redis, so that any node can take any request;
//!   live events reach every node through Redis pub/sub.
//!
//! Both push live events into this node's [`Hub`](crate::hub::Hub), which owns the open
//! streams' queues.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use pqcall_signaling::stream::Position;
use pqcall_signaling::{CallState, Core, Error, EventId, Millis, Output, Scope};

use crate::error::StartError;
use crate::event_log::EventLog;
use crate::hub::LiveQueue;

pub(crate) mod aftermath;
#[cfg(feature = "cluster")]
pub mod cluster;
pub(crate) mod local;

/// One decision of the core, returning its outputs for the engine to carry out. A
/// cluster may run it more than once (on fresh records after a conflict); only the run
/// that commits counts.
pub(crate) type Op<'a> = &'a (dyn Fn(&mut Core) -> Result<Vec<Output>, Error> + Send + Sync);

/// What a decision charges before it runs (docs/PROTOCOL.md §1.2, step 4): `cost`
/// requests of `user`'s rate (429), then, for new work (offers), the memory budget for
/// events (503). A cluster charges the rate in the round trip that loads the records,
/// or, when the node's copies of them spared the load, in the commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Charge<'a> {
    /// Whose rate.
    pub user: &'a str,
    /// What the request counts as.
    pub cost: u32,
    /// New work, refused while the event budget is spent.
    pub new_work: bool,
}

/// A stream to open (`GET /api/events`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamOpen<'a> {
    /// Its user.
    pub user: &'a str,
    /// The connection id the device had, if any.
    pub want: Option<&'a str>,
    /// Resume after this id, if any.
    pub last_id: Option<&'a str>,
    /// Its number on this node (from [`Hub::reserve_id`](crate::hub::Hub::reserve_id)).
    pub stream_no: u64,
    /// Now, in Unix ms.
    pub now: Millis,
}

impl<'a> StreamOpen<'a> {
    /// A stream of `user` (connection `want`, position `last_id`), number `sub`, at `now`.
    pub fn new(
        user: &'a str,
        want: Option<&'a str>,
        last_id: Option<&'a str>,
        stream_no: u64,
        now: Millis,
    ) -> Self {
        StreamOpen {
            user,
            want,
            last_id,
            stream_no,
            now,
        }
    }
}

/// Per-user stream limits: how many streams at once, and each one's queue capacity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamLimits {
    /// The most streams one user may hold open.
    pub cap: usize,
    /// The capacity of a stream's live queue.
    pub queue: usize,
}

impl StreamLimits {
    /// The limits `config` sets.
    pub fn of(config: &crate::config::Config) -> Self {
        StreamLimits {
            cap: config.max_streams_per_user,
            queue: config.stream_queue,
        }
    }
}

/// An open stream: its connection id, its live queue (registered before the replay was
/// read, so nothing falls between the two) and where it starts.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The connection id the stream serves.
    pub conn: String,
    /// Live events from now on (may repeat the newest replayed ones: compare ids).
    pub rx: LiveQueue,
    /// Where it starts: fresh, or resumed with a replay or a reset.
    pub start: Position,
}

/// Connections (open or in their grace period) and calls by state.
pub(crate) type Counts = (u64, Vec<(CallState, u64)>);

/// What differs between one node and a cluster. Object safe: the state holds an
/// `Arc<dyn Engine>`.
pub(crate) trait Engine: Send + Sync + std::fmt::Debug {
    /// Charges `charge` (when given), runs `op` on the records `scope` names and carries
    /// out its outputs (log, live delivery, timers), all or nothing.
    fn decide<'a>(
        &'a self,
        scope: Scope,
        charge: Option<Charge<'a>>,
        op: Op<'a>,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Runs `op` on state that is this node's own even in a cluster (new ids, the typing
    /// throttle) and carries out its outputs.
    fn decide_here<'a>(&'a self, op: Op<'a>) -> BoxFuture<'a, Result<(), Error>>;

    /// Carries out outputs decided outside the core (chat fan-out, published events),
    /// in order after everything decided before.
    fn perform(&self, outputs: Vec<Output>) -> BoxFuture<'_, Result<(), Error>>;

    /// The fan-out of a stored chat message. `inserted` is false for a retry (same
    /// `client_msg_id`): one node sends nothing again; a cluster's shared log may have
    /// failed halfway, so it delivers again to the members who did not get it.
    fn fan_out_message<'a>(
        &'a self,
        outputs: Vec<Output>,
        message_id: &'a str,
        inserted: bool,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Opens a stream: takes a slot under the per-user cap (429 when full), counts the
    /// connection open in the core, registers the live queue, reads the replay and, for
    /// a stream that is not resuming, re-sends the offers still ringing for the user.
    fn open_stream<'a>(&'a self, open: StreamOpen<'a>) -> BoxFuture<'a, Result<Opened, Error>>;

    /// Closes a stream opened by [`open_stream`](Self::open_stream) (its queue is
    /// already gone from the hub).
    fn close_stream<'a>(
        &'a self,
        user: &'a str,
        conn: &'a str,
        stream_no: u64,
    ) -> BoxFuture<'a, ()>;

    /// A single-use SSE ticket for `user`, whose token expires at `token_exp` (Unix
    /// seconds), and when the ticket expires (Unix seconds).
    fn issue_ticket<'a>(
        &'a self,
        user: &'a str,
        token_exp: u64,
    ) -> BoxFuture<'a, Result<(String, u64), Error>>;

    /// The user of a ticket, once, and when their token expires (Unix seconds).
    fn redeem_ticket<'a>(&'a self, ticket: &'a str) -> BoxFuture<'a, Result<(String, u64), Error>>;

    /// 429 `rate_limited` when `user` has used up its requests; this one counts as
    /// `cost` requests (a fan-out to many recipients costs more; at most the burst).
    fn check_rate<'a>(&'a self, user: &'a str, cost: u32) -> BoxFuture<'a, Result<(), Error>>;

    /// Whether everything this node needs answers (`/healthz`).
    fn ready(&self) -> BoxFuture<'_, bool>;

    /// How many connections (open, or in their grace period) each of `users` has: their
    /// presence (docs/PROTOCOL.md §9).
    fn connections<'a>(&'a self, users: &'a [String]) -> BoxFuture<'a, Result<Vec<usize>, Error>>;

    /// Connections and calls by state (`/metrics`); `None` when they cannot be read.
    fn counts(&self) -> BoxFuture<'_, Option<Counts>>;

    /// 503 `server_busy` while the engine's memory budget for events is spent (checked
    /// before a request that logs events changes anything).
    fn check_budget(&self) -> Result<(), Error> {
        Ok(())
    }

    /// The bytes this node's event log holds, when it holds one in memory.
    fn log_bytes(&self) -> Option<u64> {
        None
    }

    /// Starts the engine's background tasks (from `run`), until `shutdown`.
    fn spawn_tasks(&self, shutdown: tokio_util::sync::CancellationToken);
}

/// The cluster engine when `--redis-url` is set; `None` for one node.
pub(crate) async fn cluster_engine(
    config: &crate::config::Config,
    hub: &Arc<crate::hub::Hub>,
    store: &Arc<dyn crate::store::ChatStore>,
    ticket_ttl_ms: u64,
) -> Result<Option<Box<dyn Engine>>, StartError> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    #[cfg(feature = "cluster")]
    {
        let core = config.core_config();
        let shell = (hub.clone(), store.clone());
        let engine = cluster::ClusterEngine::connect(url, config, core, shell, ticket_ttl_ms);
        Ok(Some(Box::new(engine.await?)))
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (url, hub, store, ticket_ttl_ms);
        let why = "--redis-url needs pqcall built with the `cluster` feature";
        Err(StartError::Config(why.into()))
    }
}

/// The PostgreSQL chat store when `--database-url` is set (feature `cluster`); `None`
/// for the SQLite file.
pub(crate) async fn shared_store(
    config: &crate::config::Config,
) -> Result<Option<Arc<dyn crate::store::ChatStore>>, StartError> {
    let Some(url) = &config.database_url else {
        return Ok(None);
    };
    #[cfg(feature = "cluster")]
    {
        let store = crate::store::PostgresStore::open(url).await;
        Ok(Some(Arc::new(store.map_err(|e| {
            StartError::Store(format!("PostgreSQL: {e}"))
        })?)))
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = url;
        let why = "--database-url needs pqcall built with the `cluster` feature";
        Err(StartError::Config(why.into()))
    }
}

/// Where a stream starts, read from `log` after its queue was registered.
pub(crate) async fn read_start(
    log: &dyn EventLog,
    open: &StreamOpen<'_>,
    conn: &str,
) -> Result<Position, Error> {
    Ok(match open.last_id {
        Some(last) => Position::Resumed {
            last: EventId::parse(last),
            replay: log.replay(open.user, last, conn, open.now).await?,
        },
        None => Position::Fresh(log.newest(open.user).await?),
    })
}

/// 429 for a user at the stream cap.
pub(crate) fn streams_full() -> Error {
    Error::RateLimited {
        what: "streams per user",
        retry_after_secs: 5,
    }
}
