//! Shared by the load and stress tools: a `pqcall serve` process on 127.0.0.1 and
//! tokens for it.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The JWT secret the tools start their servers with (and sign tokens with).
pub const SECRET: &str = "load-tool-secret-0123456789abcdef0123";
/// The server key the tools start their servers with (for `/api/server/publish`).
pub const SERVER_KEY: &str = "load-tool-server-key";

/// A server process.
pub struct Server {
    /// The process (killed when dropped).
    pub child: Child,
    /// `http://127.0.0.1:<port>` (`https://` with `--tls-self-signed`).
    pub base: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its process id (for its CPU time and memory).
    pub pid: u32,
}

/// The Redis the cluster's nodes use and the load tool reads `INFO` from:
/// `PQCALL_LOAD_REDIS`, else the local one (benches/cluster/redis-instructions.sh runs a
/// second one under callgrind).
pub fn redis_url() -> String {
    std::env::var("PQCALL_LOAD_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Starts `path serve` with limits raised for load, plus `extra` flags; `cluster`
/// adds the local Redis and PostgreSQL (with a key prefix the nodes of one run share).
pub async fn start_server(
    path: &str,
    cluster: Option<&str>,
    extra: &str,
) -> anyhow::Result<Server> {
    let engines = cluster.map_or(String::new(), |prefix| {
        format!(
            " --redis-url {} --redis-prefix {prefix} \
             --database-url postgres://postgres@127.0.0.1:5432/test",
            redis_url()
        )
    });
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "ulimit -n 65536 2>/dev/null; exec {path} serve --bind 127.0.0.1:0 --jwt-secret {SECRET} --database :memory: \
         --offers-per-minute 100000000 --max-ringing 100000000 --rate-per-sec 1000000 --rate-burst 1000000 \
         --max-streams-per-user 100000 --max-conn-ids-per-user 100000 --max-connections 1000000 \
         --max-connections-per-ip 1000000 --max-log-bytes 8589934592 \
         --ip-rate-per-sec 1000000 --ip-rate-burst 1000000 --server-key {SERVER_KEY}{engines} {extra}"
    ));
    start_server_cmd(&mut cmd)
        .await
        .with_context(|| format!("start {path} (build it with cargo build --release --bin pqcall)"))
}

/// Starts a server command and reads the address it prints.
pub async fn start_server_cmd(cmd: &mut Command) -> anyhow::Result<Server> {
    let mut child = cmd
        .env("PQCALL_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().context("pid")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await??
        .context("no address")?;
    let base = line.rsplit(' ').next().context("address")?.to_owned();
    let addr: SocketAddr = base
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .parse()?;
    Ok(Server {
        child,
        base,
        addr,
        pid,
    })
}

/// A token for `user`, valid for an hour.
pub fn token(user: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 3600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": user, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}
