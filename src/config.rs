//! The one configuration struct: defaults, flags and `PQCALL_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// A secret from a flag or the environment: its `Debug` shows nothing of it, so it cannot
/// reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

/// Everything `pqcall serve` can be told.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, env = "PQCALL_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Worker threads of the `pqcall` binary's async runtime (an application embedding
    /// the router runs its own); one per CPU by default. One worker costs the least CPU
    /// per message, with no wake-ups across threads, and serves what one core can
    /// (BENCHMARKS.md, "Worker threads").
    #[arg(long, env = "PQCALL_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
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
    pub jwt_secret: Option<Secret>,
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
    pub server_key: Option<Secret>,
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
    /// Serve the browser demo from this directory (its `index.html`, `demo.css` and
    /// `dist/`) instead of the copy built into the binary: for working on the demo.
    #[arg(long, env = "PQCALL_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
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
    /// Bytes of events kept per user for resume; the oldest go first.
    #[arg(long, env = "PQCALL_MAX_LOG_BYTES_PER_USER", default_value_t = 4 << 20)]
    pub max_log_bytes_per_user: usize,
    /// Bytes of events kept for all users together. Over it, requests that would log
    /// more are refused with 503 `server_busy` until the window makes room.
    #[arg(long, env = "PQCALL_MAX_LOG_BYTES", default_value_t = 256 << 20)]
    pub max_log_bytes: usize,
    /// Connection ids one user may hold (open, or in their grace period); a new one
    /// past it ends the grace of the user's longest-idle one.
    #[arg(long, env = "PQCALL_MAX_CONN_IDS_PER_USER", default_value_t = 64)]
    pub max_conn_ids_per_user: usize,
    /// Seconds a client has to send a request's headers, and that an idle keep-alive
    /// connection stays open waiting for its next request.
    #[arg(long, env = "PQCALL_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, env = "PQCALL_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
    /// Seconds a write to a client may wait (a reader that stopped reading); then the
    /// connection is closed.
    #[arg(long, env = "PQCALL_WRITE_TIMEOUT_SECS", default_value_t = 30)]
    pub write_timeout_secs: u64,
    /// Open TCP connections in all; more are closed as they arrive.
    #[arg(long, env = "PQCALL_MAX_CONNECTIONS", default_value_t = 8192)]
    pub max_connections: usize,
    /// Open TCP connections per client address (an IPv6 client by its /64; behind a
    /// proxy, raise it: every client has the proxy's address).
    #[arg(long, env = "PQCALL_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,
    /// A STUN server for `GET /api/ice-servers`, e.g. `stun:stun.example.com:3478`
    /// (repeat for more).
    #[arg(long = "stun-url", env = "PQCALL_STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Vec<String>,
    /// A TURN server, e.g. `turn:turn.example.com:3478?transport=udp` (repeat for
    /// more); needs `--turn-secret`.
    #[arg(long = "turn-url", env = "PQCALL_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,
    /// The TURN server's shared secret (coturn's `static-auth-secret`): credentials are
    /// HMAC-SHA1 of `<expires_at>:<user>` with it. Never logged.
    #[arg(long, env = "PQCALL_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<Secret>,
    /// A file holding the TURN secret (instead of `--turn-secret`).
    #[arg(long, env = "PQCALL_TURN_SECRET_FILE")]
    pub turn_secret_file: Option<PathBuf>,
    /// How long TURN credentials live, in seconds.
    #[arg(long, env = "PQCALL_TURN_TTL_SECS", default_value_t = 86_400)]
    pub turn_ttl_secs: u64,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with this certificate chain (PEM);
    /// needs `--tls-key`.
    #[arg(long, env = "PQCALL_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "PQCALL_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate made at start for the bind address, `localhost`
    /// and the loopback addresses; its SHA-256 fingerprint is printed. For trying the
    /// demo between machines on a LAN (browsers warn about it; compare the fingerprint).
    #[arg(
        long,
        env = "PQCALL_TLS_SELF_SIGNED",
        default_value_t = false,
        conflicts_with = "tls_cert"
    )]
    pub tls_self_signed: bool,
    /// Conversations one user may create (each names up to 256 members).
    #[arg(
        long,
        env = "PQCALL_MAX_CONVERSATIONS_PER_USER",
        default_value_t = 1000
    )]
    pub max_conversations_per_user: u64,
    /// Requests per second per client address to the routes that need no token
    /// (health, metrics, the API document, development tokens).
    #[arg(long, env = "PQCALL_IP_RATE_PER_SEC", default_value_t = 20)]
    pub ip_rate_per_sec: u32,
    /// Burst of those requests per client address.
    #[arg(long, env = "PQCALL_IP_RATE_BURST", default_value_t = 60)]
    pub ip_rate_burst: u32,
    /// The `aud` every token must name; without it, tokens that carry `aud` are refused.
    #[arg(long, env = "PQCALL_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// The `iss` every token must have.
    #[arg(long, env = "PQCALL_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The identity provider's JWKS document (RFC 7517): tokens are verified with the
    /// key their `kid` names (RS256, ES256 or EdDSA). Takes the place of the other key
    /// flags.
    #[arg(long, env = "PQCALL_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// How often the JWKS document is fetched again, in seconds; a token that names an
    /// unknown key makes it fetch sooner, at most every 10 s.
    #[arg(long, env = "PQCALL_JWKS_REFRESH_SECS", default_value_t = 300)]
    pub jwks_refresh_secs: u64,
    /// The longest a token may be valid from now (`exp`), in seconds; 0: no limit.
    #[arg(long, env = "PQCALL_JWT_MAX_LIFETIME_SECS", default_value_t = 86_400)]
    pub jwt_max_lifetime_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: None,
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
            web_dir: None,
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
            max_log_bytes_per_user: 4 << 20,
            max_log_bytes: 256 << 20,
            max_conn_ids_per_user: 64,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            write_timeout_secs: 30,
            max_connections: 8192,
            max_connections_per_ip: 256,
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_secret_file: None,
            turn_ttl_secs: 86_400,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            max_conversations_per_user: 1000,
            ip_rate_per_sec: 20,
            ip_rate_burst: 60,
            jwt_audience: None,
            jwt_issuer: None,
            jwt_max_lifetime_secs: 86_400,
            jwks_url: None,
            jwks_refresh_secs: 300,
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
            max_conn_ids_per_user: self.max_conn_ids_per_user,
            ..pqcall_signaling::CoreConfig::default()
        }
    }

    /// The replay window of each user's event log.
    pub fn log_config(&self) -> pqcall_signaling::LogConfig {
        pqcall_signaling::LogConfig {
            max_events: self.replay_events,
            max_age_ms: self.replay_secs * 1000,
            max_bytes: self.max_log_bytes_per_user,
        }
    }
}
