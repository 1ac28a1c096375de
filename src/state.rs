//! Shared state, and the shell that performs the core's outputs.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pqcall_signaling::{
    Core, CoreConfig, Error, EventLog, LogConfig, MemoryLog, Millis, Output, Scope,
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::Auth;
use crate::config::Config;
use crate::hub::{Frame, Hub};
use crate::metrics::Metrics;
use crate::store::{ChatStore, MemoryStore, SqliteStore};

/// The core's limits and timeouts from the configuration.
fn core_config(config: &Config) -> CoreConfig {
    CoreConfig {
        ring_timeout_ms: config.ring_timeout_ms,
        handshake_timeout_ms: config.handshake_timeout_ms,
        conn_grace_ms: config.conn_grace_ms,
        offers_per_minute: config.offers_per_minute,
        max_ringing_per_caller: config.max_ringing,
        ..CoreConfig::default()
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub config: Config,
    /// The core. An async mutex: the outputs of one request are appended and fanned
    /// out before the next request runs, so per-user order is the order of decisions.
    pub core: Mutex<Core>,
    pub log: Arc<dyn EventLog>,
    pub hub: Hub,
    pub store: Arc<dyn ChatStore>,
    pub auth: Auth,
    pub shutdown: CancellationToken,
    pub metrics: Metrics,
    pub limiter: DefaultKeyedRateLimiter<String>,
    /// Cluster mode: calls, connections, timers, tickets and limits in Redis; live
    /// events travel through its pub/sub to every node.
    #[cfg(feature = "cluster")]
    pub shared: Option<Arc<crate::cluster::Shared>>,
    /// Cluster mode: false while the live-event subscription is down; streams are
    /// refused meanwhile (they would miss what is published until it is back).
    pub live_ready: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("hub", &self.0.hub)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Memory log and memory chat store, HS256 tokens: for embedding and tests.
    pub fn new(config: Config, jwt_secret: &[u8]) -> Self {
        Self::build(
            config,
            Auth::hs256(jwt_secret),
            Arc::new(MemoryStore::default()),
        )
    }

    /// What `pqcall serve` runs: the configured token keys and the SQLite store.
    /// In development mode without a secret, a random one is used.
    pub async fn from_config(config: Config) -> Result<Self, String> {
        let auth = match (
            config.jwt_alg.as_str(),
            &config.jwt_public_key,
            &config.jwt_secret,
        ) {
            ("HS256", _, Some(s)) if !s.is_empty() => Auth::hs256(s.as_bytes()),
            ("HS256", _, _) if config.dev => Auth::hs256(crate::auth::random_hex32().as_bytes()),
            ("HS256", _, _) => {
                return Err("set --jwt-secret (PQCALL_JWT_SECRET), or run with --dev".into());
            }
            (alg, Some(path), _) => {
                let pem =
                    std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
                Auth::public_key(alg, &pem)?
            }
            (alg, None, _) => return Err(format!("--jwt-alg {alg} needs --jwt-public-key")),
        };
        let store: Arc<dyn ChatStore> = match &config.database_url {
            None => Arc::new(
                SqliteStore::open(&config.database)
                    .await
                    .map_err(|e| format!("open {}: {e}", config.database.display()))?,
            ),
            #[cfg(feature = "cluster")]
            Some(url) => Arc::new(
                crate::store::PostgresStore::open(url)
                    .await
                    .map_err(|e| format!("PostgreSQL: {e}"))?,
            ),
            #[cfg(not(feature = "cluster"))]
            Some(_) => {
                return Err("--database-url needs pqcall built with the `cluster` feature".into());
            }
        };
        #[cfg_attr(not(feature = "cluster"), allow(unused_mut))]
        let mut state = Self::build(config, auth, store);
        if let Some(url) = state.0.config.redis_url.clone() {
            #[cfg(feature = "cluster")]
            {
                let cfg = LogConfig {
                    max_events: state.0.config.replay_events,
                    max_age_ms: state.0.config.replay_secs * 1000,
                };
                let log = Arc::new(
                    crate::redis_log::RedisLog::connect(&url, &state.0.config.redis_prefix, cfg)
                        .await
                        .map_err(|e| format!("Redis: {e}"))?,
                );
                let shared = Arc::new(crate::cluster::Shared::new(
                    log.clone(),
                    core_config(&state.0.config),
                    state.0.config.stream_lease_ms.max(1_000),
                ));
                let inner = Arc::get_mut(&mut state.0).ok_or("state already shared")?;
                inner.log = log.clone();
                inner.shared = Some(shared.clone());
                tokio::spawn(crate::cluster::run_timers(state.clone(), shared));
                // Subscribe before serving, so no live event is missed.
                let live = crate::redis_log::RedisLog::live(&url, &log.channel())
                    .await
                    .map_err(|e| format!("Redis: {e}"))?;
                tokio::spawn(relay_live(
                    state.clone(),
                    url,
                    log.channel(),
                    Box::pin(live),
                ));
            }
            #[cfg(not(feature = "cluster"))]
            {
                let _ = url;
                return Err("--redis-url needs pqcall built with the `cluster` feature".into());
            }
        }
        Ok(state)
    }

    /// Any combination of configuration, token keys and chat store.
    pub fn build(config: Config, auth: Auth, store: Arc<dyn ChatStore>) -> Self {
        let auth = auth.with_ticket_ttl(config.ticket_ttl_ms);
        let core = Core::new(core_config(&config));
        let log = MemoryLog::new(
            LogConfig {
                max_events: config.replay_events,
                max_age_ms: config.replay_secs * 1000,
            },
            now_ms(),
        );
        let metrics = Metrics::default();
        let hub = Hub::new(
            metrics.events_delivered.clone(),
            metrics.slow_consumer_ends.clone(),
        );
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(nz(config.rate_per_sec)).allow_burst(nz(config.rate_burst));
        AppState(Arc::new(Inner {
            config,
            core: Mutex::new(core),
            log: Arc::new(log),
            hub,
            store,
            auth,
            shutdown: CancellationToken::new(),
            metrics,
            limiter: RateLimiter::keyed(quota),
            #[cfg(feature = "cluster")]
            shared: None,
            live_ready: std::sync::atomic::AtomicBool::new(true),
        }))
    }

    /// Runs one decision of the core and performs its outputs: on this process's core
    /// under its lock, or, in cluster mode, as a transaction on the records in Redis
    /// (`scope` names what the request is about; see `pqcall_signaling::records`).
    pub(crate) async fn decide<R, F>(&self, scope: Scope, op: F) -> Result<R, Error>
    where
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error>,
    {
        #[cfg(feature = "cluster")]
        if let Some(shared) = &self.0.shared {
            return shared.transact(scope, None, op).await;
        }
        let _ = scope;
        let mut core = self.0.core.lock().await;
        let (result, out) = op(&mut core)?;
        self.perform(out).await?;
        Ok(result)
    }

    /// Counts a new stream of `user` open in the core (reusing the connection `want`
    /// if it is still known) and returns its connection id; in cluster mode together
    /// with the stream's lease, in one commit.
    pub(crate) async fn open_stream(
        &self,
        now: u64,
        user: &str,
        want: Option<&str>,
        sub: u64,
    ) -> Result<String, Error> {
        #[cfg(feature = "cluster")]
        if let Some(shared) = &self.0.shared {
            return shared.open_stream(now, user, want, sub).await;
        }
        let _ = sub;
        let mut core = self.0.core.lock().await;
        Ok(core.connect(now, user, want, false).0.conn_id)
    }

    /// Cluster mode's shared state, if this node runs in a cluster.
    #[cfg(feature = "cluster")]
    pub(crate) fn shared(&self) -> Option<&Arc<crate::cluster::Shared>> {
        self.0.shared.as_ref()
    }

    /// A single-use SSE ticket for `user` (kept in Redis in cluster mode, so any node
    /// redeems it).
    pub(crate) async fn issue_ticket(&self, user: &str) -> Result<(String, u64), Error> {
        #[cfg(feature = "cluster")]
        if let Some(shared) = &self.0.shared {
            let ticket = crate::auth::random_hex32();
            let ttl = self.0.auth.ticket_ttl_ms();
            shared.put_ticket(&ticket, user, ttl).await?;
            return Ok((ticket, (now_ms() + ttl) / 1000));
        }
        Ok(self.0.auth.issue_ticket(user, now_ms()))
    }

    /// Redeems a ticket once.
    pub(crate) async fn redeem_ticket(&self, ticket: &str) -> Result<String, Error> {
        #[cfg(feature = "cluster")]
        if let Some(shared) = &self.0.shared {
            return shared.take_ticket(ticket).await?.ok_or_else(|| {
                Error::Unauthorized("unknown, expired or already used ticket".into())
            });
        }
        self.0.auth.redeem_ticket(ticket, now_ms())
    }

    /// Whether every engine this node needs answers (for `/healthz`).
    pub(crate) async fn ready(&self) -> bool {
        #[cfg(feature = "cluster")]
        if let Some(shared) = &self.0.shared {
            return self.live_ready() && shared.ready().await;
        }
        true
    }

    /// Whether live events reach this node (always, outside cluster mode).
    pub(crate) fn live_ready(&self) -> bool {
        self.0.live_ready.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// 429 `rate_limited` when `user` has used up its token bucket (shared by every
    /// node in cluster mode).
    pub(crate) async fn check_rate(&self, user: &str) -> Result<(), pqcall_signaling::Error> {
        use governor::clock::{Clock, DefaultClock};
        #[cfg(feature = "cluster")]
        if let Some(shared) = &self.0.shared {
            let c = &self.0.config;
            return shared.check_rate(user, c.rate_per_sec, c.rate_burst).await;
        }
        match self.0.limiter.check_key(&user.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => Err(pqcall_signaling::Error::RateLimited {
                what: "requests per second",
                retry_after_secs: not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs_f64()
                    .ceil()
                    .max(1.0) as u64,
            }),
        }
    }

    /// Whether this node runs in a cluster (state in Redis).
    pub(crate) fn is_cluster(&self) -> bool {
        #[cfg(feature = "cluster")]
        return self.0.shared.is_some();
        #[cfg(not(feature = "cluster"))]
        false
    }

    /// The token that ends every stream when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.0.shutdown.clone()
    }

    /// Mints a token (for the `token` command and tests).
    pub fn mint_token(&self, user: &str, ttl_secs: u64) -> Result<String, pqcall_signaling::Error> {
        self.0
            .auth
            .mint(user, now_ms() / 1000, ttl_secs)
            .map(|(t, _)| t)
    }

    /// The user of a valid token (for an embedding app's own routes).
    pub fn verify_token(&self, token: &str) -> Result<String, pqcall_signaling::Error> {
        self.0.auth.verify(token)
    }

    /// Sends a logged event to this node's open streams of `user`. In cluster mode the
    /// log's pub/sub carries it to every node, this one too.
    fn push_live(&self, user: &str, logged: pqcall_signaling::LoggedEvent) {
        if !self.is_cluster() {
            let frame = Arc::new(Frame {
                id: Some(logged.id),
                name: logged.name,
                data: logged.data,
            });
            self.0.hub.send(user, Some(&logged.audience), frame);
        }
    }

    /// Like [`perform`](Self::perform), but each delivery at most once per user under
    /// `key` (within the log's window): a retried request runs it again to finish a
    /// fan-out that an error cut short, and users who already got the event get
    /// nothing new.
    pub(crate) async fn perform_once(
        &self,
        outputs: Vec<Output>,
        key: &str,
    ) -> Result<(), pqcall_signaling::Error> {
        self.perform_with(outputs, Some(key)).await
    }

    /// Performs outputs in order: log and fan out deliveries, schedule timers.
    /// Call it while holding the core lock, so outputs of different requests never
    /// interleave.
    pub(crate) fn perform(
        &self,
        outputs: Vec<Output>,
    ) -> futures_util::future::BoxFuture<'_, Result<(), pqcall_signaling::Error>> {
        self.perform_with(outputs, None)
    }

    fn perform_with<'a>(
        &'a self,
        outputs: Vec<Output>,
        once: Option<&'a str>,
    ) -> futures_util::future::BoxFuture<'a, Result<(), pqcall_signaling::Error>> {
        // Boxed: a timer's task performs outputs too, so the future type is recursive.
        Box::pin(async move {
            for o in outputs {
                match o {
                    Output::Deliver {
                        user,
                        audience,
                        event,
                    } => {
                        let (log, data, now) = (&self.0.log, event.data_json(), now_ms());
                        let logged = match once {
                            None => Some(
                                log.append(&user, audience, event.name(), &data, now)
                                    .await?,
                            ),
                            Some(key) => {
                                log.append_once(&user, key, audience, event.name(), &data, now)
                                    .await?
                            }
                        };
                        if let Some(logged) = logged {
                            self.push_live(&user, logged);
                        }
                    }
                    Output::Ephemeral { user, event } => {
                        #[cfg(feature = "cluster")]
                        if let Some(shared) = &self.0.shared {
                            shared.publish_ephemeral(&user, &event).await?;
                            continue;
                        }
                        let frame = Arc::new(Frame {
                            id: None,
                            name: event.name().to_owned(),
                            data: event.data_json(),
                        });
                        self.0.hub.send(&user, None, frame);
                    }
                    Output::Timer { at, timer } => {
                        let state = self.clone();
                        tokio::spawn(async move {
                            let wait = Duration::from_millis(at.saturating_sub(now_ms()));
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                _ = state.0.shutdown.cancelled() => return,
                            }
                            let mut core = state.0.core.lock().await;
                            let out = core.on_timer(now_ms(), &timer);
                            if let Err(e) = state.perform(out).await {
                                tracing::warn!(error = %e, "timer output failed");
                            }
                        });
                    }
                }
            }
            Ok(())
        })
    }
}

/// Cluster mode: pushes live events from Redis pub/sub into this node's streams. When
/// the subscription breaks, every local stream is ended so that its client resumes from
/// its last id (the log has everything published meanwhile), then it subscribes again.
#[cfg(feature = "cluster")]
async fn relay_live(
    state: AppState,
    url: String,
    channel: String,
    mut live: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = crate::redis_log::LiveFrame> + Send>,
    >,
) {
    use futures_util::StreamExt;
    loop {
        tokio::select! {
            _ = state.0.shutdown.cancelled() => return,
            item = live.next() => match item {
                Some(f) => {
                    let frame = Arc::new(Frame { id: f.id, name: f.name, data: f.data });
                    state.0.hub.send(&f.user, Some(&f.audience), frame);
                }
                None => {
                    tracing::warn!("live event subscription lost: ending local streams so clients resume");
                    state.0.live_ready.store(false, std::sync::atomic::Ordering::SeqCst);
                    state.0.hub.close_all();
                    loop {
                        match crate::redis_log::RedisLog::live(&url, &channel).await {
                            Ok(s) => {
                                live = Box::pin(s);
                                // A stream that opened while the loss went unnoticed may
                                // have missed a live event: end it too, so it resumes.
                                state.0.hub.close_all();
                                state.0.live_ready.store(true, std::sync::atomic::Ordering::SeqCst);
                                tracing::info!("live event subscription back");
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "resubscribing");
                                tokio::select! {
                                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                                    _ = state.0.shutdown.cancelled() => return,
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
