//! Per-user event logs in Redis Streams (feature `cluster`), with the semantics of the
//! in-memory log (`pqcall_signaling::log`) and checked by the same conformance suite.
//!
//! Each user has a state string `{prefix}:state:{user}` (epoch, seq, evicted, bytes, the
//! oldest event's time, the last renewal), a stream `{prefix}:events:{user}` whose entry
//! ids are `0-<seq>`, and beside it a list of each event's seq, time and size (the
//! stream's key and `"\ncosts"`), which eviction reads instead of the events (and makes
//! again from the stream when it finds it does not match the state); all three expire
//! when unused for the window plus a minute (a node renews them for users with open
//! streams). The state starts when the user opens a stream:
//! appends for a user without one keep nothing. An append trims the oldest events in a
//! batch once the log is an eighth past a limit; a replay first trims to the exact
//! window, so what a client can resume is the in-memory log's. Every operation is one
//! Lua script, so appends from any node are atomic and ids strictly increase. The epoch is the Redis
//! clock in ms when a user's log is (re)created, so a log lost with a Redis restart comes
//! back under a new epoch and old ids get `reset`, never a wrong replay.

use pqcall_signaling::log::replay_rule;

use super::channels::Channels;

use crate::event_log::EventLog;
use crate::hub::Frame;
use pqcall_signaling::{Audience, Error, EventId, LogConfig, LoggedEvent, Millis, Replay};
use redis::aio::ConnectionManager;
use redis::{Script, Value};

/// The key of the list beside the stream `log` (log_prologue.lua's `costs_key`): each
/// event's seq, time and size, which eviction reads instead of the events. A user id
/// holds no control character, so no other key ends this way.
pub(crate) fn costs_key(log: &str) -> String {
    [log, "\ncosts"].concat()
}

/// Lua functions every script of this module starts with (also the cluster's commit
/// script, which appends several events in one atomic step).
pub(crate) const PROLOGUE: &str = include_str!("log_prologue.lua");

// With a third key (`EventLog::append_once`), nothing is appended when that key is
// taken; it is taken only after the append, so a failed append leaves it free.
const APPEND: &str = include_str!("log_append.lua");

const REPLAY: &str = include_str!("log_replay.lua");

const NEWEST: &str = include_str!("log_newest.lua");

/// The event logs of every user, in one Redis.
#[derive(Clone)]
pub struct RedisLog {
    con: ConnectionManager,
    prefix: String,
    cfg: LogConfig,
    append: Script,
    replay: Script,
    newest: Script,
}

impl std::fmt::Debug for RedisLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLog")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// How an audience is stored in a log entry and a live frame: a kind and a connection
/// id (empty for `all`); [`audience_from`] reads it back.
pub(crate) fn audience_fields(a: &Audience) -> (&'static str, &str) {
    match a {
        Audience::All => ("all", ""),
        Audience::Only(c) => ("only", c.as_str()),
        Audience::Except(c) => ("except", c.as_str()),
    }
}

/// The inverse of [`audience_fields`].
fn audience_from(kind: Option<&str>, conn: String) -> Audience {
    match kind {
        Some("only") => Audience::Only(conn),
        Some("except") => Audience::Except(conn),
        _ => Audience::All,
    }
}

pub(crate) fn unavailable(e: redis::RedisError) -> Error {
    tracing::warn!(error = %e, "redis");
    Error::Unavailable("the event log is unavailable".into())
}

pub(crate) fn as_u64(v: &Value) -> u64 {
    match v {
        Value::Int(n) => *n as u64,
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        Value::SimpleString(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn as_string(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

impl RedisLog {
    /// Connects (with a connection manager that reconnects by itself). `prefix` keeps
    /// deployments (and test runs) apart.
    pub async fn connect(
        url: &str,
        prefix: &str,
        cfg: LogConfig,
    ) -> Result<Self, redis::RedisError> {
        // Fail fast while Redis is away (503 at once, /healthz not ready) and reconnect
        // in the background, instead of holding requests through long retries.
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(std::time::Duration::from_millis(50))
            .set_max_delay(std::time::Duration::from_millis(500))
            .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
            .set_response_timeout(Some(std::time::Duration::from_secs(5)));
        let con = redis::Client::open(url)?
            .get_connection_manager_with_config(manager)
            .await?;
        let script = |body: &str| Script::new(&format!("{PROLOGUE}\n{body}"));
        Ok(RedisLog {
            con,
            prefix: prefix.to_owned(),
            cfg,
            append: script(APPEND),
            replay: script(REPLAY),
            newest: script(NEWEST),
        })
    }

    /// A user's log: its state's key and its stream's ([`costs_key`] names the third).
    pub(crate) fn keys(&self, user: &str) -> (String, String) {
        (
            // `concat` sizes the string once (this runs for every event).
            [&self.prefix, ":state:", user].concat(),
            [&self.prefix, ":events:", user].concat(),
        )
    }

    pub(crate) fn ttl_secs(&self) -> u64 {
        self.cfg.max_age_ms.div_ceil(1000).saturating_add(60)
    }

    /// A handle on the shared connection (it reconnects by itself).
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.con.clone()
    }

    /// The key prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The replay window.
    pub(crate) fn log_config(&self) -> &LogConfig {
        &self.cfg
    }

    /// The pub/sub channel of `user`'s live events (see `channels.rs`).
    pub fn channel(&self, user: &str) -> String {
        Channels::of(&self.prefix, user)
    }

    /// Publishes an ephemeral event (typing) to the nodes holding `user`'s streams,
    /// without logging it.
    pub async fn publish_ephemeral(&self, user: &str, name: &str, data: &str) -> Result<(), Error> {
        let payload = LiveFrame::ephemeral_payload(user, name, data);
        let mut con = self.con.clone();
        redis::cmd("PUBLISH")
            .arg(self.channel(user))
            .arg(payload)
            .query_async::<i64>(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// A live connection: its subscribing half (for `Channels`, nothing subscribed
    /// yet), and the live events of the subscribed channels in the order they were
    /// logged, for the users that `wanted` holds streams of (the rest, in flight when a
    /// user's last stream closed, are dropped unparsed), until the connection breaks
    /// (then the caller must end its streams so that clients resume from their last id:
    /// nothing published meanwhile would reach them otherwise).
    pub async fn live<W>(
        url: &str,
        wanted: W,
    ) -> Result<
        (
            redis::aio::PubSubSink,
            impl futures_util::Stream<Item = LiveFrame> + use<W>,
        ),
        redis::RedisError,
    >
    where
        W: Fn(&str) -> bool + Send + 'static,
    {
        use futures_util::StreamExt;
        let pubsub = redis::Client::open(url)?.get_async_pubsub().await?;
        let (sink, stream) = pubsub.split();
        Ok((
            sink,
            stream.filter_map(move |msg| {
                let payload = std::str::from_utf8(msg.get_payload_bytes()).ok();
                let frame = payload
                    .filter(|p| wanted(LiveFrame::user_of(p)))
                    .and_then(LiveFrame::parse);
                std::future::ready(frame)
            }),
        ))
    }

    /// Whether Redis answers (for readiness).
    pub async fn ping(&self) -> bool {
        let mut con = self.con.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut con)
            .await
            .is_ok()
    }

    /// Runs the append script; `once` adds the key that [`EventLog::append_once`] takes.
    async fn invoke_append(
        &self,
        user: &str,
        once: Option<&str>,
        audience: &Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Value, Error> {
        let (meta, log) = self.keys(user);
        let (aud, conn) = audience_fields(audience);
        let mut invocation = self.append.key(&meta);
        invocation.key(&log);
        if let Some(key) = once {
            invocation.key(format!("{}:once:{user}:{key}", self.prefix));
        }
        let mut con = self.con.clone();
        invocation
            .arg(now)
            .arg(self.cfg.max_events)
            .arg(self.cfg.max_age_ms)
            .arg(self.cfg.max_bytes)
            .arg(self.ttl_secs())
            .arg(aud)
            .arg(conn)
            .arg(name)
            .arg(data)
            .arg(self.channel(user))
            .arg(user)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)
    }
}

/// The event an append script logged, from its `{epoch, seq}` reply.
fn logged(r: &Value, audience: Audience, name: &str, data: &str, now: Millis) -> LoggedEvent {
    let (epoch, seq) = match r {
        Value::Array(v) => (
            v.first().map(as_u64).unwrap_or(0),
            v.get(1).map(as_u64).unwrap_or(0),
        ),
        _ => (0, 0),
    };
    LoggedEvent {
        id: EventId { epoch, seq },
        audience,
        name: name.into(),
        data: data.into(),
        at: now,
    }
}

fn entry_to_event(epoch: u64, v: &Value) -> Option<LoggedEvent> {
    let Value::Array(parts) = v else { return None };
    let id = as_string(parts.first()?);
    let seq: u64 = id.rsplit('-').next()?.parse().ok()?;
    let Value::Array(fields) = parts.get(1)? else {
        return None;
    };
    let mut f = std::collections::HashMap::new();
    for kv in fields.chunks(2) {
        if let [k, v] = kv {
            f.insert(as_string(k), v);
        }
    }
    let conn = f.get("conn").map(|v| as_string(v)).unwrap_or_default();
    let audience = audience_from(f.get("aud").map(|v| as_string(v)).as_deref(), conn);
    Some(LoggedEvent {
        id: EventId { epoch, seq },
        audience,
        name: f
            .get("name")
            .map(|v| as_string(v))
            .unwrap_or_default()
            .into(),
        data: f
            .get("data")
            .map(|v| as_string(v))
            .unwrap_or_default()
            .into(),
        at: f.get("at").map(|v| as_u64(v)).unwrap_or(0),
    })
}

#[async_trait::async_trait]
impl EventLog for RedisLog {
    async fn append(
        &self,
        user: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error> {
        let r = self
            .invoke_append(user, None, &audience, name, data, now)
            .await?;
        Ok(match r {
            Value::Nil => None,
            r => Some(logged(&r, audience, name, data, now)),
        })
    }

    async fn append_once(
        &self,
        user: &str,
        key: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error> {
        let r = self
            .invoke_append(user, Some(key), &audience, name, data, now)
            .await?;
        Ok(match r {
            Value::Nil => None,
            r => Some(logged(&r, audience, name, data, now)),
        })
    }

    async fn replay(
        &self,
        user: &str,
        after: &str,
        conn: &str,
        now: Millis,
    ) -> Result<Replay, Error> {
        let (meta, log) = self.keys(user);
        let from = EventId::parse(after).map_or(0, |id| id.seq);
        let mut con = self.con.clone();
        let r: Vec<Value> = self
            .replay
            .key(&meta)
            .key(&log)
            .arg(now)
            .arg(self.cfg.max_events)
            .arg(self.cfg.max_age_ms)
            .arg(from)
            .arg(self.cfg.max_bytes)
            .arg(self.ttl_secs())
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        let epoch = r.first().map(as_u64).unwrap_or(0);
        let seq = r.get(1).map(as_u64).unwrap_or(0);
        let evicted = r.get(2).map(as_u64).unwrap_or(0);
        let entries: Vec<LoggedEvent> = match r.get(3) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| entry_to_event(epoch, v))
                .collect(),
            _ => Vec::new(),
        };
        Ok(replay_rule(
            epoch,
            seq,
            evicted,
            entries.iter(),
            after,
            conn,
        ))
    }

    async fn newest(&self, user: &str) -> Result<EventId, Error> {
        let (meta, log) = self.keys(user);
        let mut con = self.con.clone();
        let r: Vec<Value> = self
            .newest
            .key(&meta)
            .key(&log)
            .arg(self.ttl_secs())
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(EventId {
            epoch: r.first().map(as_u64).unwrap_or(0),
            seq: r.get(1).map(as_u64).unwrap_or(0),
        })
    }
}

/// One event as published on the live channel.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFrame {
    /// The recipient user.
    pub user: String,
    /// Which of the user's connections see it.
    pub audience: Audience,
    /// The event, framed for SSE straight from the payload (its name and data are not
    /// copied apart first).
    pub frame: Frame,
}

/// A live frame on the channel is seven lines: user, epoch, seq, audience kind, its
/// connection, event name, data (one-line JSON, so the last line). Epoch and seq are
/// empty for an ephemeral event. Lines rather than JSON: a node reads the user before
/// anything else, and the data is never escaped (log_prologue.lua's `append` writes it).
impl LiveFrame {
    /// The payload of an ephemeral event (no id) to every connection of `user`.
    fn ephemeral_payload(user: &str, name: &str, data: &str) -> String {
        format!("{user}\n\n\nall\n\n{name}\n{data}")
    }

    /// The recipient of a payload, read before the rest is parsed.
    fn user_of(payload: &str) -> &str {
        payload.split_once('\n').map_or(payload, |(user, _)| user)
    }

    fn parse(payload: &str) -> Option<LiveFrame> {
        let mut lines = payload.splitn(7, '\n');
        let mut next = || lines.next();
        let (user, epoch, seq) = (next()?, next()?, next()?);
        let (kind, conn, name, data) = (next()?, next()?, next()?, next()?);
        let id = match (epoch.parse(), seq.parse()) {
            (Ok(epoch), Ok(seq)) => Some(EventId { epoch, seq }),
            _ => None,
        };
        Some(LiveFrame {
            user: user.to_owned(),
            audience: audience_from(Some(kind), conn.to_owned()),
            frame: Frame::new(id, name, data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_frames_read_back() {
        let p = "bob\n1700000000000\n42\nexcept\nc1\ncall.ice\n{\"a\":\"x\\ny\"}";
        assert_eq!(LiveFrame::user_of(p), "bob");
        let f = LiveFrame::parse(p).unwrap();
        assert_eq!(
            f.frame.id,
            Some(EventId {
                epoch: 1_700_000_000_000,
                seq: 42
            })
        );
        assert_eq!(f.audience, Audience::Except("c1".into()));
        let sse = "id: 1700000000000-42\nevent: call.ice\ndata: {\"a\":\"x\\ny\"}\n\n";
        assert_eq!(f.frame.sse, sse);
        let e = LiveFrame::parse(&LiveFrame::ephemeral_payload("bob", "typing", "{}")).unwrap();
        assert_eq!(
            (e.frame.id, e.audience, e.user.as_str()),
            (None, Audience::All, "bob")
        );
        assert_eq!(
            LiveFrame::parse("bob\n1\n2"),
            None,
            "a cut payload is dropped"
        );
    }
}
