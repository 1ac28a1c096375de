//! The one configuration struct: defaults, flags and `PQCALL_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Everything `pqcall serve` can be told.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, env = "PQCALL_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Development mode: `POST /api/dev/token` mints tokens for any user name.
    /// Refused on a non-loopback address unless `--force-dev`.
    #[arg(long, env = "PQCALL_DEV", default_value_t = false)]
    pub dev: bool,
    /// Allow development mode on a non-loopback address.
    #[arg(long, env = "PQCALL_FORCE_DEV", default_value_t = false)]
    pub force_dev: bool,
    /// HS256 secret that signs and verifies JWTs. In development mode a random one is
    /// used when none is given.
    #[arg(long, env = "PQCALL_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// JWT algorithm: HS256 (with `--jwt-secret`), or EdDSA, ES256, RS256 (with
    /// `--jwt-public-key`). Tokens with any other `alg` are refused.
    #[arg(long, env = "PQCALL_JWT_ALG", default_value = "HS256")]
    pub jwt_alg: String,
    /// PEM public key file for EdDSA, ES256 or RS256 tokens.
    #[arg(long, env = "PQCALL_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
    /// Key for `POST /api/server/publish` (`Authorization: Bearer <key>`); publishing
    /// is off without one.
    #[arg(long, env = "PQCALL_SERVER_KEY", hide_env_values = true)]
    pub server_key: Option<String>,
    /// Chat history database: an SQLite file path, or `:memory:`.
    #[arg(long, env = "PQCALL_DATABASE", default_value = "pqcall.db")]
    pub database: PathBuf,
    /// Redis for the per-user event logs (needs the `cluster` feature), e.g.
    /// `redis://127.0.0.1:6379`. Without it the logs live in process memory.
    #[arg(long, env = "PQCALL_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel: nodes of one cluster share it, and
    /// separate deployments (or test runs) on one Redis use different ones.
    #[arg(long, env = "PQCALL_REDIS_PREFIX", default_value = "pqcall")]
    pub redis_prefix: String,
    /// PostgreSQL for chat history (needs the `cluster` feature), e.g.
    /// `postgres://user@host/db`. Takes the place of `--database`.
    #[arg(long, env = "PQCALL_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Origins allowed to call the API from a browser (CORS), e.g.
    /// `https://app.example.com`; repeat or separate with commas. None: same origin only.
    #[arg(
        long = "cors-origin",
        env = "PQCALL_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Directory served at `/` (the browser demo).
    #[arg(long, env = "PQCALL_WEB_DIR", default_value = "web")]
    pub web_dir: PathBuf,
    /// Ring timeout, in milliseconds.
    #[arg(long, env = "PQCALL_RING_TIMEOUT_MS", default_value_t = 45_000)]
    pub ring_timeout_ms: u64,
    /// How long an answered call may take to become active (both confirms), in
    /// milliseconds; then it ends with `handshake_timeout` on both sides.
    #[arg(long, env = "PQCALL_HANDSHAKE_TIMEOUT_MS", default_value_t = 30_000)]
    pub handshake_timeout_ms: u64,
    /// Grace period of a connection id without a stream, in milliseconds.
    #[arg(long, env = "PQCALL_CONN_GRACE_MS", default_value_t = 30_000)]
    pub conn_grace_ms: u64,
    /// Heartbeat comment interval, in milliseconds.
    #[arg(long, env = "PQCALL_HEARTBEAT_MS", default_value_t = 15_000)]
    pub heartbeat_ms: u64,
    /// Events kept per user for resume.
    #[arg(long, env = "PQCALL_REPLAY_EVENTS", default_value_t = 1000)]
    pub replay_events: usize,
    /// Oldest event kept for resume, in seconds.
    #[arg(long, env = "PQCALL_REPLAY_SECS", default_value_t = 600)]
    pub replay_secs: u64,
    /// Frames queued per stream before a slow reader's stream is ended.
    #[arg(long, env = "PQCALL_STREAM_QUEUE", default_value_t = 256)]
    pub stream_queue: usize,
    /// Open streams per user.
    #[arg(long, env = "PQCALL_MAX_STREAMS_PER_USER", default_value_t = 16)]
    pub max_streams_per_user: usize,
    /// Offers one user may make per minute.
    #[arg(long, env = "PQCALL_OFFERS_PER_MINUTE", default_value_t = 30)]
    pub offers_per_minute: usize,
    /// Ringing calls one caller may have at once.
    #[arg(long, env = "PQCALL_MAX_RINGING", default_value_t = 4)]
    pub max_ringing: usize,
    /// Requests per second per user (token bucket refill rate).
    #[arg(long, env = "PQCALL_RATE_PER_SEC", default_value_t = 50)]
    pub rate_per_sec: u32,
    /// Token bucket size per user (burst).
    #[arg(long, env = "PQCALL_RATE_BURST", default_value_t = 100)]
    pub rate_burst: u32,
    /// How long a single-use SSE ticket lives, in ms (at most 60000, docs/PROTOCOL.md §2).
    #[arg(long, env = "PQCALL_TICKET_TTL_MS", default_value_t = 60_000)]
    pub ticket_ttl_ms: u64,
    /// Cluster mode: how long a node's claim on one of its open streams lives without
    /// renewal, in ms, at least 1000 (a node renews every third of it). When a node dies, its streams'
    /// slots free themselves and another node closes their connections after this.
    #[arg(long, env = "PQCALL_STREAM_LEASE_MS", default_value_t = 30_000)]
    pub stream_lease_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            dev: false,
            force_dev: false,
            jwt_secret: None,
            jwt_alg: "HS256".into(),
            jwt_public_key: None,
            server_key: None,
            database: PathBuf::from("pqcall.db"),
            redis_url: None,
            redis_prefix: "pqcall".into(),
            database_url: None,
            cors_origins: Vec::new(),
            web_dir: PathBuf::from("web"),
            ring_timeout_ms: 45_000,
            handshake_timeout_ms: 30_000,
            conn_grace_ms: 30_000,
            heartbeat_ms: 15_000,
            replay_events: 1000,
            replay_secs: 600,
            stream_queue: 256,
            max_streams_per_user: 16,
            offers_per_minute: 30,
            max_ringing: 4,
            rate_per_sec: 50,
            rate_burst: 100,
            ticket_ttl_ms: 60_000,
            stream_lease_ms: 30_000,
        }
    }
}

impl Config {
    /// The core's limits and timeouts from this configuration.
    pub fn core_config(&self) -> pqcall_signaling::CoreConfig {
        pqcall_signaling::CoreConfig {
            ring_timeout_ms: self.ring_timeout_ms,
            handshake_timeout_ms: self.handshake_timeout_ms,
            conn_grace_ms: self.conn_grace_ms,
            offers_per_minute: self.offers_per_minute,
            max_ringing_per_caller: self.max_ringing,
            ..pqcall_signaling::CoreConfig::default()
        }
    }
}
