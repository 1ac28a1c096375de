//! Cluster mode (feature `cluster`): the core's state in Redis, shared by every node,
//! so that any node may take any request.
//!
//! Each request runs as an optimistic transaction:
//!
//! 1. load the records of the request's closure (`pqcall_signaling::records`): one
//!    string per user and per call, `{prefix}:user:{user}` / `{prefix}:call:{call}`,
//!    holding a version, the links to the records it brings in (a user's live calls, a
//!    call's parties) and the JSON record. `load.lua` follows the links with one MGET
//!    per step, so that the whole closure comes back in one round trip, which also
//!    charges the user's request rate. When this node holds a copy of every record of
//!    the closure (`cache.rs`: the versions it last read or wrote), it takes those
//!    instead and skips this round trip;
//! 2. run the core's operation on a scratch core holding only those records;
//! 3. commit with one Lua script that checks every version it was given (one MGET,
//!    which also reads the state of every log it appends to), charges the rate if the
//!    load did not, then writes the changed records, appends the events to the users'
//!    logs (publishing them for live delivery), schedules timers, all or nothing. A
//!    changed version means another node got there first: the refusal carries the
//!    records as they are now, and the operation runs again on them. The commits a
//!    node's requests make together travel as one pipeline (`batch.rs`), each still
//!    its own script.
//!
//! So the state machine applies each request exactly once, whichever node it reaches, in
//! two round trips to Redis, or one when the node's copies were fresh (an ICE batch in
//! a call this node has seen).
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

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use pqcall_signaling::{Core, CoreConfig, Error, Output, Scope};

use crate::event_log::EventLog;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::{
    Charge, Counts, Engine, Op, Opened, StreamLimits, StreamOpen, read_start, streams_full,
};
use crate::clock::now_ms;
use crate::config::Config;
use crate::error::StartError;
use crate::hub::Hub;

mod batch;
mod cache;
mod channels;
mod log;
mod presence;
mod records;
mod script_args;
mod streams;
mod tasks;
mod transaction;

use channels::Channels;
pub use log::{LiveFrame, RedisLog};
pub use records::Cluster;

/// Live events from Redis pub/sub.
pub(crate) type LiveStream = Pin<Box<dyn futures_util::Stream<Item = LiveFrame> + Send>>;

/// The cluster engine of one node.
pub(crate) struct ClusterEngine {
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
    /// The users whose live events this node receives.
    channels: Arc<Channels>,
    /// State that stays this node's own (new ids, the typing throttle); its lock also
    /// keeps this node's fan-outs in order.
    here: Mutex<Core>,
    rate: (u32, u32),
    streams: StreamLimits,
    ticket_ttl_ms: u64,
    url: String,
    /// The subscription made before serving, until `spawn_tasks` relays it.
    live: std::sync::Mutex<Option<LiveStream>>,
    /// False while the live subscription is down.
    live_ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for ClusterEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterEngine")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl ClusterEngine {
    /// Connects to Redis at `url` and subscribes to live events (before serving, so none
    /// is missed).
    pub(crate) async fn connect(
        url: &str,
        config: &Config,
        core: CoreConfig,
        (hub, store): (Arc<Hub>, Arc<dyn crate::store::ChatStore>),
        ticket_ttl_ms: u64,
    ) -> Result<Self, StartError> {
        let cfg = config.log_config();
        let log = RedisLog::connect(url, &config.redis_prefix, cfg)
            .await
            .map_err(|e| StartError::Redis(e.to_string()))?;
        let (sink, live) = RedisLog::live(url, tasks::holds_streams(&hub))
            .await
            .map_err(|e| StartError::Redis(e.to_string()))?;
        let channels = Arc::new(Channels::new(&config.redis_prefix, sink));
        let lease_ms = config.stream_lease_ms.max(1_000);
        let cluster = Cluster::new(Arc::new(log), core.clone(), lease_ms).with_store(store);
        Ok(ClusterEngine {
            cluster: Arc::new(cluster),
            hub,
            channels,
            here: Mutex::new(Core::new(core)),
            rate: (config.rate_per_sec, config.rate_burst),
            streams: StreamLimits::of(config),
            ticket_ttl_ms,
            url: url.to_owned(),
            live: std::sync::Mutex::new(Some(Box::pin(live))),
            live_ready: Arc::new(AtomicBool::new(true)),
        })
    }

    /// Appends deliveries to the shared log (which publishes them to every node, this
    /// one too) and publishes ephemeral events; with `once`, each user gets a delivery
    /// at most once under that key. Call it holding `here`.
    async fn carry_out(&self, outputs: Vec<Output>, once: Option<&str>) -> Result<(), Error> {
        for o in outputs {
            match o {
                Output::Deliver {
                    user,
                    audience,
                    event,
                } => {
                    let (name, data, now) = (event.name(), event.data_json(), now_ms());
                    match once {
                        None => drop(
                            self.cluster
                                .log
                                .append(&user, audience, name, &data, now)
                                .await?,
                        ),
                        Some(key) => {
                            let log = &self.cluster.log;
                            drop(
                                log.append_once(&user, key, audience, name, &data, now)
                                    .await?,
                            );
                        }
                    }
                }
                Output::Ephemeral { user, event } => {
                    self.cluster.publish_ephemeral(&user, &event).await?;
                }
                // Timers, finished calls and connections come only from decisions on
                // shared records, which commit them.
                Output::Timer { .. } | Output::CallFinished(_) | Output::Presence { .. } => {
                    tracing::warn!("a record's output outside a transaction")
                }
            }
        }
        Ok(())
    }
}

impl ClusterEngine {
    /// Whether live events reach this node (streams are refused meanwhile).
    fn live_ready(&self) -> bool {
        self.live_ready.load(Ordering::SeqCst)
    }
}

impl Engine for ClusterEngine {
    fn decide<'a>(
        &'a self,
        scope: Scope,
        charge: Option<Charge<'a>>,
        op: Op<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // No memory budget here: events live in Redis, whose own limits apply.
        let op = move |core: &mut Core| Ok(((), op(core)?));
        Box::pin(async move {
            match charge {
                Some(c) => {
                    let rate = (c.user, self.rate, c.cost);
                    self.cluster.transact_charged(scope, rate, op).await
                }
                None => self.cluster.transact(scope, None, op).await,
            }
        })
    }

    fn decide_here<'a>(&'a self, op: Op<'a>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut here = self.here.lock().await;
            let out = op(&mut here)?;
            self.carry_out(out, None).await
        })
    }

    fn perform(&self, outputs: Vec<Output>) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let _order = self.here.lock().await;
            self.carry_out(outputs, None).await
        })
    }

    fn fan_out_message<'a>(
        &'a self,
        outputs: Vec<Output>,
        message_id: &'a str,
        _inserted: bool,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // docs/PROTOCOL.md §4: an error (503) can cut a fan-out short after the message
        // was stored, so a retry runs it again, once per member.
        Box::pin(async move {
            let _order = self.here.lock().await;
            let key = format!("message:{message_id}");
            self.carry_out(outputs, Some(&key)).await
        })
    }

    fn open_stream<'a>(&'a self, open: StreamOpen<'a>) -> BoxFuture<'a, Result<Opened, Error>> {
        Box::pin(async move {
            if !self.live_ready() {
                let why = "live events are not reaching this node; try another";
                return Err(Error::Unavailable(why.into()));
            }
            let c = &self.cluster;
            // The cap counts the user's streams on every node (a slot not renewed, as
            // when this request fails below, frees itself).
            if !c
                .take_stream_slot(open.user, open.stream_no, self.streams.cap)
                .await?
            {
                return Err(streams_full());
            }
            // Counted open together with its lease (or not at all).
            let conn = c
                .open_stream(open.now, open.user, open.want, open.stream_no)
                .await?;
            let rx = self
                .hub
                .subscribe(open.stream_no, open.user, &conn, self.streams.queue);
            // Whatever happens from here, the stream is closed again unless it opens: a
            // client gone mid-way drops this future, and the guard's drop closes it.
            let mut guard = OpenGuard {
                engine: Some((
                    self.cluster.clone(),
                    self.hub.clone(),
                    self.channels.clone(),
                )),
                user: open.user.to_owned(),
                conn: conn.clone(),
                stream_no: open.stream_no,
            };
            let started = async {
                // Live events before the replay's read: none falls between the two.
                self.channels.hold(open.user).await?;
                let start = read_start(&*self.cluster.log, &open, &conn).await?;
                // Two transactions here, not one: a fresh device may see an offer twice
                // (clients ignore an offer whose call id they know).
                if start.resends_offers() {
                    let scope = Scope::users([open.user]);
                    let offers = |core: &mut Core| Ok(core.pending_offers(open.user, &conn));
                    self.decide(scope, None, &offers).await?;
                }
                Ok::<_, Error>(start)
            };
            match started.await {
                Ok(start) => {
                    guard.disarm();
                    Ok(Opened { conn, rx, start })
                }
                Err(e) => {
                    if let Some(closing) = guard.undo() {
                        closing.await;
                    }
                    Err(e)
                }
            }
        })
    }

    fn close_stream<'a>(
        &'a self,
        user: &'a str,
        conn: &'a str,
        stream_no: u64,
    ) -> BoxFuture<'a, ()> {
        let (hub, channels) = (self.hub.clone(), self.channels.clone());
        close(self.cluster.clone(), (hub, channels), user, conn, stream_no)
    }

    fn issue_ticket<'a>(
        &'a self,
        user: &'a str,
        token_exp: u64,
    ) -> BoxFuture<'a, Result<(String, u64), Error>> {
        Box::pin(async move {
            let ticket = crate::auth::random_hex32();
            let ttl = self.ticket_ttl_ms;
            self.cluster
                .put_ticket(&ticket, user, token_exp, ttl)
                .await?;
            Ok((ticket, (now_ms() + ttl) / 1000))
        })
    }

    fn redeem_ticket<'a>(&'a self, ticket: &'a str) -> BoxFuture<'a, Result<(String, u64), Error>> {
        Box::pin(async move {
            self.cluster.take_ticket(ticket).await?.ok_or_else(|| {
                Error::Unauthorized("unknown, expired or already used ticket".into())
            })
        })
    }

    fn check_rate<'a>(&'a self, user: &'a str, cost: u32) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.cluster.check_rate(user, self.rate, cost))
    }

    fn ready(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.live_ready() && self.cluster.ready().await })
    }

    fn connections<'a>(&'a self, users: &'a [String]) -> BoxFuture<'a, Result<Vec<usize>, Error>> {
        Box::pin(self.cluster.connections_of(users))
    }

    fn counts(&self) -> BoxFuture<'_, Option<Counts>> {
        Box::pin(async move {
            self.cluster
                .gauges()
                .await
                .inspect_err(|e| tracing::warn!(error = %e, "reading the cluster's gauges"))
                .ok()
        })
    }

    fn spawn_tasks(&self, shutdown: CancellationToken) {
        let (hub, cluster) = (self.hub.clone(), self.cluster.clone());
        tokio::spawn(tasks::run_timers(cluster, hub.clone(), shutdown.clone()));
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(live) = live {
            let (url, channels) = (self.url.clone(), self.channels.clone());
            let ready = self.live_ready.clone();
            tokio::spawn(tasks::relay_live(
                url,
                live,
                (hub, channels),
                ready,
                shutdown,
            ));
        }
    }
}

/// Closes a stream of this node: its slot and lease first (so the user may open another
/// at once), then its user's channel if no other stream here needs it.
fn close(
    cluster: Arc<Cluster>,
    (hub, channels): (Arc<Hub>, Arc<Channels>),
    user: &str,
    conn: &str,
    stream_no: u64,
) -> BoxFuture<'static, ()> {
    let (user, conn) = (user.to_owned(), conn.to_owned());
    Box::pin(async move {
        cluster.release_stream_slot(&user, stream_no).await;
        // Closed with its lease in one commit; if another node already closed it,
        // nothing happens, and on error the lease expires and some node closes it.
        if let Err(e) = cluster.close_stream(&user, &conn, stream_no).await {
            tracing::warn!(error = %e, "closing a stream (its lease will expire)");
        }
        channels.release(&user, &hub).await;
    })
}

/// A stream being opened: failed, it is taken out of the hub and closed
/// ([`undo`](Self::undo)); dropped before [`disarm`](Self::disarm) (its client went
/// away mid-way), the same happens in a task.
struct OpenGuard {
    engine: Option<(Arc<Cluster>, Arc<Hub>, Arc<Channels>)>,
    user: String,
    conn: String,
    stream_no: u64,
}

impl OpenGuard {
    /// The stream opened: it stays.
    fn disarm(mut self) {
        self.engine = None;
    }

    /// Takes the stream out of the hub; the closing that follows, once.
    fn undo(&mut self) -> Option<BoxFuture<'static, ()>> {
        let (cluster, hub, channels) = self.engine.take()?;
        hub.unsubscribe(&self.user, self.stream_no);
        let (user, conn) = (&self.user, &self.conn);
        Some(close(cluster, (hub, channels), user, conn, self.stream_no))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if let Some(closing) = self.undo() {
            tokio::spawn(closing);
        }
    }
}

/// Taken shared by each unit test that uses the real Redis, and alone by those that keep
/// Redis busy (batch.rs), so that they stall no other (within this test process).
#[cfg(test)]
pub(super) static REDIS_TURN: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The address of the real Redis the cluster's unit tests use: `PQCALL_TEST_REDIS`, or
/// the local one.
#[cfg(test)]
pub(super) fn test_redis_url() -> String {
    std::env::var("PQCALL_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The client of the real Redis the cluster's unit tests use (`PQCALL_TEST_REDIS`, or the
/// local one), and a name no other test run has (the time in nanoseconds), for keys and
/// scripts of the test's own.
#[cfg(test)]
pub(super) fn test_redis() -> (redis::Client, u128) {
    let client = redis::Client::open(test_redis_url().as_str()).unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (client, nanos)
}
