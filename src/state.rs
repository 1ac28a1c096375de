//! Shared state: configuration, token keys, the chat store, this node's open streams and
//! the [`Engine`] that decides and delivers (one node, or a cluster).

use std::sync::Arc;

use pqcall_signaling::{Core, Error, Output, Scope};
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::clock::now_ms;
use crate::config::Config;
use crate::engine::local::Local;
use crate::engine::{Charge, Counts, Engine, Opened, StreamLimits, StreamOpen};
use crate::error::StartError;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::{ChatStore, MemoryStore, SqliteStore};

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub config: Config,
    pub engine: Box<dyn Engine>,
    pub hub: Arc<Hub>,
    pub store: Arc<dyn ChatStore>,
    pub auth: Arc<Auth>,
    pub shutdown: CancellationToken,
    pub metrics: Metrics,
    /// Keeps each conversation's writes and their fan-outs in one order on this node.
    pub chat: ChatOrder,
    /// The per-address rate of the routes that need no token.
    pub open_routes: crate::routes::guards::OpenRoutes,
    /// The TURN secret (`--turn-secret`, or read from `--turn-secret-file`).
    pub turn_secret: Option<crate::config::Secret>,
    /// HTTPS, when `--tls-cert` or `--tls-self-signed` asked for it.
    pub tls: Option<crate::tls::Tls>,
}

/// What every state starts with: its metrics, the hub of open streams counting into
/// them, and the token that ends everything at shutdown.
struct Wiring {
    metrics: Metrics,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
}

impl Wiring {
    fn new() -> Self {
        let metrics = Metrics::default();
        let hub = Arc::new(Hub::new(
            metrics.events_delivered.clone(),
            metrics.slow_consumer_ends.clone(),
        ));
        Wiring {
            metrics,
            hub,
            shutdown: CancellationToken::new(),
        }
    }
}

/// Locks by conversation (striped): writes to one conversation, and their fan-outs, run
/// one at a time and in order; writes to different conversations run side by side.
pub struct ChatOrder(Vec<tokio::sync::Mutex<()>>);

impl Default for ChatOrder {
    fn default() -> Self {
        ChatOrder((0..64).map(|_| tokio::sync::Mutex::new(())).collect())
    }
}

impl ChatOrder {
    /// Waits for conversation `id`'s turn.
    pub async fn lock(&self, id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash =
            BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(id);
        self.0[(hash % self.0.len() as u64) as usize].lock().await
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("hub", &self.0.hub)
            .field("engine", &self.0.engine)
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
    pub async fn from_config(mut config: Config) -> Result<Self, StartError> {
        if config.dev && config.cors_origins.iter().any(|o| o.trim() == "*") {
            let why = "--cors-origin '*' with --dev would let any web page mint tokens";
            return Err(StartError::Config(why.into()));
        }
        if let Some(path) = &config.turn_secret_file {
            let read = std::fs::read_to_string(path)
                .map_err(|e| StartError::Key(format!("read {}: {e}", path.display())))?;
            config.turn_secret = Some(read.trim().into());
        }
        let no_secret = config
            .turn_secret
            .as_ref()
            .is_none_or(|s| s.expose().is_empty());
        if !config.turn_urls.is_empty() && no_secret {
            let why = "--turn-url needs --turn-secret (or --turn-secret-file)";
            return Err(StartError::Config(why.into()));
        }
        let tls = crate::tls::Tls::from_config(&config)?;
        let auth = Arc::new(Auth::from_config(&config).await?);
        let w = Wiring::new();
        let store: Arc<dyn ChatStore> = match crate::engine::shared_store(&config).await? {
            Some(store) => store,
            None => Arc::new(SqliteStore::open(&config.database).await.map_err(|e| {
                StartError::Store(format!("open {}: {e}", config.database.display()))
            })?),
        };
        let ttl = auth.ticket_ttl_ms();
        let engine = match crate::engine::cluster_engine(&config, &w.hub, &store, ttl).await? {
            Some(engine) => engine,
            None => Box::new(Self::local(&config, &w.hub, &auth, &store, &w.shutdown)),
        };
        Ok(Self::assemble(config, engine, w, store, auth, tls))
    }

    /// Any combination of configuration, token keys and chat store, on one node.
    pub fn build(config: Config, auth: Auth, store: Arc<dyn ChatStore>) -> Self {
        let auth = Arc::new(auth.configured(&config));
        let w = Wiring::new();
        let engine = Box::new(Self::local(&config, &w.hub, &auth, &store, &w.shutdown));
        Self::assemble(config, engine, w, store, auth, None)
    }

    pub(crate) fn local(
        config: &Config,
        hub: &Arc<Hub>,
        auth: &Arc<Auth>,
        store: &Arc<dyn ChatStore>,
        shutdown: &CancellationToken,
    ) -> Local {
        let log = config.log_config();
        let rate = (config.rate_per_sec, config.rate_burst);
        let streams = StreamLimits::of(config);
        Local::new(
            config.core_config(),
            (log, config.max_log_bytes),
            rate,
            streams,
            (hub.clone(), auth.clone(), store.clone()),
            shutdown.clone(),
        )
    }

    fn assemble(
        config: Config,
        engine: Box<dyn Engine>,
        w: Wiring,
        store: Arc<dyn ChatStore>,
        auth: Arc<Auth>,
        tls: Option<crate::tls::Tls>,
    ) -> Self {
        AppState(Arc::new(Inner {
            engine,
            hub: w.hub,
            store,
            auth,
            shutdown: w.shutdown,
            metrics: w.metrics,
            chat: ChatOrder::default(),
            open_routes: crate::routes::guards::OpenRoutes::new(&config),
            turn_secret: config.turn_secret.clone(),
            tls,
            config,
        }))
    }

    /// The TLS this state serves with ([`AppState::from_config`] sets it up from
    /// `--tls-cert`/`--tls-key` or `--tls-self-signed`; [`AppState::build`] serves plain
    /// HTTP).
    pub fn tls(&self) -> Option<&crate::tls::Tls> {
        self.0.tls.as_ref()
    }

    /// Starts the engine's background tasks (cluster mode: timers, stream leases, live
    /// events); [`run`](crate::run) calls it.
    pub fn start(&self) {
        self.0.engine.spawn_tasks(self.0.shutdown.clone());
        self.0.auth.spawn_tasks(self.0.shutdown.clone());
        let (state, shutdown) = (self.clone(), self.0.shutdown.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = tick.tick() => state.0.open_routes.prune(),
                    _ = shutdown.cancelled() => return,
                }
            }
        });
    }

    /// Runs one decision of the core for a request of `user` on the records `scope`
    /// names (see `pqcall_signaling::records`) and carries out its outputs, after
    /// charging one request of the user's rate (429) and, when it is `new_work`, the
    /// event budget (503).
    pub(crate) async fn decide_for<R, F>(
        &self,
        user: &str,
        new_work: bool,
        scope: Scope,
        op: F,
    ) -> Result<R, Error>
    where
        R: Send,
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error> + Send + Sync,
    {
        let charge = Charge {
            user,
            cost: 1,
            new_work,
        };
        self.run(Some((scope, Some(charge))), op).await
    }

    /// Runs a decision on state that is this node's own (new ids, the typing throttle).
    pub(crate) async fn decide_here<R, F>(&self, op: F) -> Result<R, Error>
    where
        R: Send,
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error> + Send + Sync,
    {
        self.run(None, op).await
    }

    /// [`decide_for`](Self::decide_for) with a scope, [`decide_here`](Self::decide_here) without.
    async fn run<R, F>(&self, scope: Option<(Scope, Option<Charge<'_>>)>, op: F) -> Result<R, Error>
    where
        R: Send,
        F: Fn(&mut Core) -> Result<(R, Vec<Output>), Error> + Send + Sync,
    {
        // The engine may run `op` more than once (a cluster retries on conflict): the
        // result of the run that committed is the last one kept.
        let result = std::sync::Mutex::new(None);
        let keep = |core: &mut Core| {
            let (r, out) = op(core)?;
            *result.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            Ok(out)
        };
        match scope {
            Some((scope, charge)) => self.0.engine.decide(scope, charge, &keep).await?,
            None => self.0.engine.decide_here(&keep).await?,
        }
        let result = result.into_inner().unwrap_or_else(|p| p.into_inner());
        result.ok_or_else(|| Error::Unavailable("a decision left no result".into()))
    }

    /// Carries out outputs decided outside the core.
    pub(crate) async fn perform(&self, outputs: Vec<Output>) -> Result<(), Error> {
        self.0.engine.perform(outputs).await
    }

    /// The fan-out of a stored chat message (`inserted`: false for a retry).
    pub(crate) async fn fan_out_message(
        &self,
        outputs: Vec<Output>,
        message_id: &str,
        inserted: bool,
    ) -> Result<(), Error> {
        let engine = &self.0.engine;
        engine.fan_out_message(outputs, message_id, inserted).await
    }

    /// Opens a stream (see [`Engine::open_stream`]).
    pub(crate) async fn open_stream(&self, open: StreamOpen<'_>) -> Result<Opened, Error> {
        self.0.engine.open_stream(open).await
    }

    /// A single-use SSE ticket for `user`, and when it expires (Unix seconds).
    pub(crate) async fn issue_ticket(
        &self,
        user: &str,
        token_exp: u64,
    ) -> Result<(String, u64), Error> {
        self.0.engine.issue_ticket(user, token_exp).await
    }

    /// Redeems a ticket once.
    pub(crate) async fn redeem_ticket(&self, ticket: &str) -> Result<(String, u64), Error> {
        self.0.engine.redeem_ticket(ticket).await
    }

    /// Whether every engine this node needs answers (for `/healthz`).
    pub(crate) async fn ready(&self) -> bool {
        self.0.engine.ready().await
    }

    /// 429 `rate_limited` when `user` has used up its requests.
    pub(crate) async fn check_rate(&self, user: &str) -> Result<(), Error> {
        self.check_rate_n(user, 1).await
    }

    /// 429 `rate_limited` when `user` has not `cost` requests left; this one counts as
    /// that many (at most the burst).
    pub(crate) async fn check_rate_n(&self, user: &str, cost: u32) -> Result<(), Error> {
        self.0.engine.check_rate(user, cost).await
    }

    /// Admits a request that logs events, counting as `cost` requests: the user's rate
    /// (429), then the memory budget for events (503 `server_busy`), before anything
    /// changes.
    pub(crate) async fn admit(&self, user: &str, cost: u32) -> Result<(), Error> {
        self.0.engine.check_rate(user, cost).await?;
        self.0.engine.check_budget()
    }

    /// Connections and calls by state.
    pub(crate) async fn counts(&self) -> Option<Counts> {
        self.0.engine.counts().await
    }

    /// The token that ends every stream when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.0.shutdown.clone()
    }

    /// Mints a token (for the `token` command and tests).
    pub fn mint_token(&self, user: &str, ttl_secs: u64) -> Result<String, Error> {
        self.0
            .auth
            .mint(user, now_ms() / 1000, ttl_secs)
            .map(|(t, _)| t)
    }

    /// The user of a valid token (for an embedding app's own routes).
    pub fn verify_token(&self, token: &str) -> Result<String, Error> {
        self.0.auth.verify(token)
    }
}
