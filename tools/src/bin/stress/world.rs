//! What the stress run saw: every device's events, and the checks on them.

use anyhow::{Context, bail};
use pqcall_tools::server::token;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What one device saw.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The message id, call id or marker this event is about.
    pub(crate) key: String,
}

pub(crate) struct Device {
    pub(crate) user: String,
    pub(crate) conn: Mutex<Option<String>>,
    pub(crate) last: Mutex<Option<String>>,
    pub(crate) seen: Mutex<Vec<Seen>>,
    pub(crate) changed: Notify,
    pub(crate) kill: Notify,
    pub(crate) slow: bool,
}

impl Device {
    pub(crate) fn conn(&self) -> String {
        self.conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    pub(crate) fn count(&self, name: &str, key: &str) -> usize {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .filter(|s| s.name == name && s.key == key)
            .count()
    }

    /// Waits until this device has seen `name` about `key` (bounded: 30 s).
    pub(crate) async fn wait_for(&self, name: &str, key: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.count(name, key) > 0 {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, changed).await.is_err() {
                let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                bail!(
                    "{} (slow: {}) never saw {name} {key}; it saw {} events, the last {:?}",
                    self.user,
                    self.slow,
                    seen.len(),
                    seen.last()
                );
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) events: AtomicU64,
    pub(crate) kills: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) replayed_tickets_refused: AtomicU64,
    pub(crate) expired_tickets_refused: AtomicU64,
    pub(crate) resets: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) retries: AtomicU64,
}

pub(crate) struct World {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) devices: Vec<Arc<Device>>,
    pub(crate) users: Vec<String>,
    pub(crate) stats: Stats,
    pub(crate) stop: AtomicBool,
}

impl World {
    pub(crate) fn devices_of(&self, user: &str) -> Vec<Arc<Device>> {
        self.devices
            .iter()
            .filter(|d| d.user == user)
            .cloned()
            .collect()
    }

    pub(crate) async fn post(
        &self,
        user: &str,
        conn: Option<&str>,
        path: &str,
        body: Value,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token(user))
            .json(&body);
        if let Some(c) = conn {
            req = req.header("X-Pqcall-Conn", c);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }

    pub(crate) async fn ok(
        &self,
        user: &str,
        conn: Option<&str>,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let (s, v) = self.post(user, conn, path, body).await?;
        if s != 200 {
            bail!("{path} by {user}: {s} {v}");
        }
        Ok(v)
    }

    /// A fresh SSE ticket for `user`.
    pub(crate) async fn ticket(&self, user: &str) -> anyhow::Result<String> {
        let auth = self
            .ok(user, None, "/api/auth/authenticate", json!({}))
            .await?;
        Ok(auth["sse_ticket"].as_str().context("ticket")?.to_owned())
    }

    /// Opens a stream with a ticket that must be refused (401), and counts it.
    pub(crate) async fn refused(
        &self,
        ticket: &str,
        what: &str,
        count: &AtomicU64,
    ) -> anyhow::Result<()> {
        let res = self
            .http
            .get(format!("{}/api/events?ticket={ticket}", self.base))
            .send()
            .await?;
        if res.status().as_u16() != 401 {
            bail!("{what} ticket got {}", res.status());
        }
        count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

pub(crate) fn key_of(name: &str, data: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match name {
        "message.new" => s(&data["message"]["id"]),
        "conversation.created" => s(&data["conversation_id"]),
        n if n.starts_with("app.") => s(&data["mark"]),
        _ => s(&data["call_id"]),
    }
}
