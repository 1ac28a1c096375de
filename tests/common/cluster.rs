//! Cluster test helpers: `pqcall` processes on the test Redis and PostgreSQL, devices
//! that record every event they see, offers and markers.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{Events, next as next_of};

pub const SECRET: &str = "cluster-nodes-secret-0123456789abcdef";
pub const SERVER_KEY: &str = "cluster-nodes-server-key";

pub fn redis_url() -> String {
    std::env::var("PQCALL_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn postgres_url() -> String {
    std::env::var("PQCALL_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The time now, in Unix ms (what the core's operations take).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn salt() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{n:x}")
}

pub async fn services_answer() -> bool {
    let redis = tokio::net::TcpStream::connect("127.0.0.1:6379")
        .await
        .is_ok();
    let pg = tokio::net::TcpStream::connect("127.0.0.1:5432")
        .await
        .is_ok();
    if !(redis && pg) {
        eprintln!("SKIPPED: Redis or PostgreSQL does not answer");
    }
    redis && pg
}

pub struct Node {
    pub child: Child,
    pub base: String,
}

/// Starts a node; `extra` are more `serve` flags.
pub async fn node(redis: &str, prefix: &str, extra: &[&str]) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pqcall"))
        .args(["serve", "--bind", "127.0.0.1:0", "--jwt-secret", SECRET])
        .args(["--server-key", SERVER_KEY, "--redis-url", redis])
        .args(["--redis-prefix", prefix, "--database-url"])
        .arg(postgres_url())
        .args(extra)
        .env("PQCALL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the node prints its address")
        .unwrap()
        .unwrap();
    let base = line.rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    Node { child, base }
}

/// Three nodes on the test Redis under a fresh key prefix (returned), each with `extra`.
pub async fn three_nodes(tag: &str, extra: &[&str]) -> (String, Vec<Node>) {
    let prefix = format!("pqcall-{tag}-{}", salt());
    let redis = redis_url();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(node(&redis, &prefix, extra).await);
    }
    (prefix, nodes)
}

/// The three nodes' base URLs.
pub fn bases(nodes: &[Node]) -> [String; 3] {
    [0, 1, 2].map(|i| nodes[i].base.clone())
}

/// Two fresh user names, alice and bob.
pub fn two_users() -> (String, String) {
    let s = salt();
    (format!("alice-{s}"), format!("bob-{s}"))
}

pub fn token(user: &str) -> String {
    let minter = pqcall::AppState::new(pqcall::Config::default(), SECRET.as_bytes());
    minter.mint_token(user, 600).unwrap()
}

/// [`super::post`] as `user`.
pub async fn post(
    base: &str,
    user: &str,
    conn: Option<&str>,
    path: &str,
    body: Value,
) -> (u16, Value) {
    super::post(base, &token(user), conn, path, body).await
}

pub async fn ticket(base: &str, user: &str) -> String {
    super::ticket(base, &token(user)).await
}

/// One device: its connection id, its position, and every event it saw.
pub struct Device {
    pub user: String,
    pub conn: String,
    pub last: String,
    pub events: Events,
    pub seen: Vec<(String, Value)>,
}

impl Device {
    /// Opens a stream on `base` (resuming when the device has a position).
    pub async fn open(base: &str, user: &str, resume: Option<&Device>) -> Device {
        let query = resume
            .map(|d| format!("&conn_id={}&last_event_id={}", d.conn, d.last))
            .unwrap_or_default();
        let mut events = super::open(base, &token(user), &query).await;
        let hello = next_of(&mut events).await;
        assert_eq!(hello.event, "hello");
        let h: Value = serde_json::from_str(&hello.data).unwrap();
        if resume.is_none() {
            assert_eq!(h["resumed"], false);
        }
        Device {
            user: user.to_owned(),
            conn: h["conn_id"].as_str().unwrap().to_owned(),
            last: if hello.id.is_empty() {
                resume.map(|d| d.last.clone()).unwrap_or_default()
            } else {
                hello.id.clone()
            },
            events,
            seen: resume.map(|d| d.seen.clone()).unwrap_or_default(),
        }
    }

    /// The next event, recorded.
    pub async fn next(&mut self) -> (String, Value) {
        let e = next_of(&mut self.events).await;
        if !e.id.is_empty() {
            self.last = e.id.clone();
        }
        let v: Value = serde_json::from_str(&e.data).unwrap();
        self.seen.push((e.event.clone(), v.clone()));
        (e.event, v)
    }

    /// Reads until an event named `name`, returning its data.
    pub async fn until(&mut self, name: &str) -> Value {
        loop {
            let (n, v) = self.next().await;
            if n == name {
                return v;
            }
        }
    }

    pub fn names(&self) -> Vec<&str> {
        self.seen.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// `from` calls `to` through `base`: the answer of a successful offer.
pub async fn offer(base: &str, from: &Device, to: &str) -> Value {
    let (st, r) = post(
        base,
        &from.user,
        Some(&from.conn),
        "/api/calls/offer",
        offer_body(to),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    r
}

pub fn offer_body(to: &str) -> Value {
    let (_, offer) = pqcall_crypto::Caller::start().unwrap();
    json!({"to": to, "sdp": "v=0\r\n", "kem": {"suite": "ML-KEM-768", "ek": offer.ek_b64(), "commit": offer.commit_b64()}})
}

pub fn b64(n: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(vec![7u8; n])
}

/// Publishes an `app.mark` event to `users` through `base`: a marker in their logs.
pub async fn mark(base: &str, users: &[&str]) {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/server/publish"))
        .bearer_auth(SERVER_KEY)
        .json(&json!({"users": users, "event": "app.mark", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}
