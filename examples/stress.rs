//! Self-checking stress run: many users with several devices each make calls and chat
//! at once while streams are killed at random, some readers are slow (so the server
//! ends their streams when their queues fill), old tickets are replayed and some
//! tickets expire before use. Every
//! device resumes with its last event id. At the end it checks, exactly: each device's
//! events in strictly increasing id order with no duplicate; every device of a user saw
//! the same chat and app events in the same order; every acknowledged message reached
//! every device of every member once; every call reached a final state, with its
//! final event delivered once; no `reset` (nothing lost); no stream left open and no
//! call left unfinished on the server.
//!
//! ```sh
//! cargo build --release --bin pqcall --example stress
//! target/release/examples/stress --seed 42 --users 16 --devices 2 --seconds 60
//! ```
//!
//! Flags: `--seed N` (printed; the same seed makes the same choices), `--users`,
//! `--devices`, `--seconds`, `--server PATH` (default `target/release/pqcall`). It
//! starts the server itself on 127.0.0.1, sends traffic only there, and stops by itself.
//! Exit status 1 when a check fails.

#[path = "common/server.rs"]
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use server::{SERVER_KEY, start_server, token};
use tokio::sync::Notify;

/// What one device saw.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    name: String,
    /// The message id, call id or marker this event is about.
    key: String,
}

struct Device {
    user: String,
    conn: Mutex<Option<String>>,
    last: Mutex<Option<String>>,
    seen: Mutex<Vec<Seen>>,
    changed: Notify,
    kill: Notify,
    slow: bool,
}

impl Device {
    fn conn(&self) -> String {
        self.conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    fn count(&self, name: &str, key: &str) -> usize {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .filter(|s| s.name == name && s.key == key)
            .count()
    }

    /// Waits until this device has seen `name` about `key` (bounded: 30 s).
    async fn wait_for(&self, name: &str, key: &str) -> anyhow::Result<()> {
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
struct Stats {
    events: AtomicU64,
    kills: AtomicU64,
    reconnects: AtomicU64,
    replayed_tickets_refused: AtomicU64,
    expired_tickets_refused: AtomicU64,
    resets: AtomicU64,
    messages: AtomicU64,
    retries: AtomicU64,
}

struct World {
    base: String,
    http: reqwest::Client,
    devices: Vec<Arc<Device>>,
    users: Vec<String>,
    stats: Stats,
    stop: AtomicBool,
}

impl World {
    fn devices_of(&self, user: &str) -> Vec<Arc<Device>> {
        self.devices
            .iter()
            .filter(|d| d.user == user)
            .cloned()
            .collect()
    }

    async fn post(
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

    async fn ok(
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
    async fn ticket(&self, user: &str) -> anyhow::Result<String> {
        let auth = self
            .ok(user, None, "/api/auth/authenticate", json!({}))
            .await?;
        Ok(auth["sse_ticket"].as_str().context("ticket")?.to_owned())
    }

    /// Opens a stream with a ticket that must be refused (401), and counts it.
    async fn refused(&self, ticket: &str, what: &str, count: &AtomicU64) -> anyhow::Result<()> {
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

fn key_of(name: &str, data: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match name {
        "message.new" => s(&data["message"]["id"]),
        "conversation.created" => s(&data["conversation_id"]),
        n if n.starts_with("app.") => s(&data["mark"]),
        _ => s(&data["call_id"]),
    }
}

/// One device's reader: opens its stream, records everything, resumes after every
/// end (killed, slow-consumer end), until the run is over and it saw `app.done`.
async fn reader(world: Arc<World>, dev: Arc<Device>, mut rng: fastrand::Rng) -> anyhow::Result<()> {
    let mut old_ticket: Option<String> = None;
    loop {
        if world.stop.load(Ordering::SeqCst) && dev.count("app.done", "end") > 0 {
            return Ok(());
        }
        // Sometimes replay the last ticket first: it must be refused.
        if let Some(t) = old_ticket.take().filter(|_| rng.u8(..10) == 0) {
            world
                .refused(&t, "a replayed", &world.stats.replayed_tickets_refused)
                .await?;
        }
        // Sometimes let a ticket expire (the server runs with --ticket-ttl-ms 1000)
        // before using it: it must get 401.
        if rng.u8(..20) == 0 {
            let t = world.ticket(&dev.user).await?;
            tokio::time::sleep(Duration::from_millis(1100)).await;
            world
                .refused(&t, "an expired", &world.stats.expired_tickets_refused)
                .await?;
        }
        let ticket = world.ticket(&dev.user).await?;
        let mut url = format!("{}/api/events?ticket={ticket}", world.base);
        old_ticket = Some(ticket);
        let (conn, last) = (
            dev.conn.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            dev.last.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        );
        if let Some(c) = &conn {
            url.push_str(&format!("&conn_id={c}"));
        }
        if let Some(l) = &last {
            url.push_str(&format!("&last_event_id={l}"));
        }
        let res = world.http.get(url).send().await?;
        if res.status().as_u16() != 200 {
            bail!("stream of {}: {}", dev.user, res.status());
        }
        let mut events = Box::pin(res.bytes_stream().eventsource());
        loop {
            let next = tokio::select! {
                e = events.next() => e,
                _ = dev.kill.notified() => {
                    world.stats.kills.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            };
            let Some(Ok(e)) = next else { break };
            let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
            if e.event == "hello" {
                let c = data["conn_id"].as_str().unwrap_or_default().to_owned();
                if conn.as_ref().is_some_and(|old| *old != c) {
                    bail!("{} lost its connection id on resume", dev.user);
                }
                *dev.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
                if !e.id.is_empty() {
                    *dev.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.id.clone());
                }
                dev.changed.notify_waiters();
                continue;
            }
            if e.event == "reset" {
                world.stats.resets.fetch_add(1, Ordering::Relaxed);
            }
            if e.event == "typing" || e.id.is_empty() {
                continue;
            }
            world.stats.events.fetch_add(1, Ordering::Relaxed);
            *dev.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.id.clone());
            dev.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Seen {
                    id: e.id.clone(),
                    name: e.event.clone(),
                    key: key_of(&e.event, &data),
                });
            dev.changed.notify_waiters();
            if dev.slow {
                // A slow reader, which now and then stalls: the server's queue for it
                // fills and the server ends the stream; it resumes like any other.
                let pause = match rng.u16(..4000) {
                    0 => 1500,
                    n if n % 4 == 0 => 1,
                    _ => 0,
                };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            if world.stop.load(Ordering::SeqCst) && e.event == "app.done" {
                return Ok(());
            }
        }
        world.stats.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

/// Chat: sends to random conversations of the sender; sometimes retries a send with
/// the same `client_msg_id`, which must give back the same message.
async fn chatter(
    world: Arc<World>,
    convs: Arc<Vec<(String, Vec<String>)>>,
    sent: Arc<Mutex<Vec<(String, String)>>>,
    me: usize,
    mut rng: fastrand::Rng,
) -> anyhow::Result<()> {
    let mut n = 0;
    while !world.stop.load(Ordering::SeqCst) {
        let (conv, members) = &convs[rng.usize(..convs.len())];
        let from = &members[rng.usize(..members.len())];
        let cmid = format!("s{me}-{n}");
        n += 1;
        let body = json!({"conversation_id": conv, "body": format!("hello {cmid}"), "client_msg_id": cmid});
        let r = world
            .ok(from, None, "/api/messages/send", body.clone())
            .await?;
        let id = r["message"]["id"]
            .as_str()
            .context("message id")?
            .to_owned();
        if rng.u8(..8) == 0 {
            let again = world.ok(from, None, "/api/messages/send", body).await?;
            if again["message"]["id"] != r["message"]["id"] {
                bail!("a retried send made a second message");
            }
            world.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
        world.stats.messages.fetch_add(1, Ordering::Relaxed);
        sent.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((conv.clone(), id));
    }
    Ok(())
}

/// How a call ended, and which device must have seen which final event once.
struct CallEnd {
    call_id: String,
    outcome: &'static str,
    /// (device, event name) that must each appear exactly once.
    finals: Vec<(Arc<Device>, &'static str)>,
}

fn b64(n: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(vec![9u8; n])
}

/// Calls between random pairs: answered and hung up, declined, canceled or missed.
async fn caller(
    world: Arc<World>,
    pairs: Vec<(usize, usize)>,
    ends: Arc<Mutex<Vec<CallEnd>>>,
    mut rng: fastrand::Rng,
) -> anyhow::Result<()> {
    let mut i = 0;
    while !world.stop.load(Ordering::SeqCst) {
        let (a, b) = pairs[i % pairs.len()];
        i += 1;
        let (ua, ub) = (world.users[a].clone(), world.users[b].clone());
        let da = world.devices_of(&ua)[0].clone();
        let dbs = world.devices_of(&ub);
        // The device that answers or declines keeps up (a slow one may lag seconds
        // behind; it must still receive everything, which the end checks).
        let quick: Vec<&Arc<Device>> = dbs.iter().filter(|d| !d.slow).collect();
        let db = quick[rng.usize(..quick.len())].clone();
        let (_, kem) = pqcall_crypto::Caller::start()?;
        let offer = json!({"to": ub, "sdp": "v=0\r\n", "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}});
        let (s, r) = world
            .post(&ua, Some(&da.conn()), "/api/calls/offer", offer)
            .await?;
        if s != 200 {
            // Glare with a call the other way is a legitimate answer under load.
            if r["error"]["code"] == "glare" {
                continue;
            }
            bail!("offer: {s} {r}");
        }
        let call = r["call_id"].as_str().context("call id")?.to_owned();
        let id = json!({"call_id": call});
        let missed = |call: String| {
            let mut finals: Vec<(Arc<Device>, &'static str)> =
                dbs.iter().map(|d| (d.clone(), "call.missed")).collect();
            finals.push((da.clone(), "call.missed"));
            CallEnd {
                call_id: call,
                outcome: "missed",
                finals,
            }
        };
        // Answering or declining can lose the race with the ring timeout (409): then
        // the call was missed, and that is what must have been delivered.
        let lost_race = |s: u16, r: &Value| s == 409 && r["error"]["code"] == "invalid_state";
        let end = match rng.u8(..4) {
            0 => {
                db.wait_for("call.offer", &call).await?;
                let (s, r) = world
                    .post(
                        &ub,
                        Some(&db.conn()),
                        "/api/calls/answer",
                        json!({"call_id": call, "sdp": "v=0\r\n", "kem": {"ct": b64(1088)}}),
                    )
                    .await?;
                if lost_race(s, &r) {
                    missed(call)
                } else {
                    if s != 200 {
                        bail!("answer: {s} {r}");
                    }
                    da.wait_for("call.answer", &call).await?;
                    world
                        .ok(
                            &ua,
                            Some(&da.conn()),
                            "/api/calls/confirm",
                            json!({"call_id": call, "kem": {"nonce": b64(32), "tag": b64(32)}}),
                        )
                        .await?;
                    db.wait_for("call.confirm", &call).await?;
                    world
                        .ok(
                            &ub,
                            Some(&db.conn()),
                            "/api/calls/confirm",
                            json!({"call_id": call, "kem": {"tag": b64(32)}}),
                        )
                        .await?;
                    let ice = json!({"call_id": call, "candidates": [{"candidate": "candidate:1 1 udp 1 10.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}], "done": true});
                    world
                        .ok(&ua, Some(&da.conn()), "/api/calls/ice", ice.clone())
                        .await?;
                    world
                        .ok(&ub, Some(&db.conn()), "/api/calls/ice", ice)
                        .await?;
                    if rng.bool() {
                        world
                            .ok(&ua, Some(&da.conn()), "/api/calls/end", id)
                            .await?;
                        CallEnd {
                            call_id: call,
                            outcome: "ended",
                            finals: vec![(db.clone(), "call.ended")],
                        }
                    } else {
                        world
                            .ok(&ub, Some(&db.conn()), "/api/calls/end", id)
                            .await?;
                        CallEnd {
                            call_id: call,
                            outcome: "ended",
                            finals: vec![(da.clone(), "call.ended")],
                        }
                    }
                }
            }
            1 => {
                db.wait_for("call.offer", &call).await?;
                let (s, r) = world
                    .post(&ub, Some(&db.conn()), "/api/calls/decline", id)
                    .await?;
                if lost_race(s, &r) {
                    missed(call)
                } else if s == 200 {
                    CallEnd {
                        call_id: call,
                        outcome: "declined",
                        finals: vec![(da.clone(), "call.declined")],
                    }
                } else {
                    bail!("decline: {s} {r}");
                }
            }
            2 => {
                world
                    .ok(&ua, Some(&da.conn()), "/api/calls/end", id)
                    .await?;
                let finals = dbs.iter().map(|d| (d.clone(), "call.ended")).collect();
                CallEnd {
                    call_id: call,
                    outcome: "canceled",
                    finals,
                }
            }
            _ => missed(call),
        };
        for (d, name) in &end.finals {
            d.wait_for(name, &end.call_id).await?;
        }
        ends.lock().unwrap_or_else(|p| p.into_inner()).push(end);
    }
    Ok(())
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seed: u64 = flag("--seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let users_n: usize = flag("--users")
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
        .max(2);
    let devices_n: usize = flag("--devices")
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
        .max(1);
    let seconds: u64 = flag("--seconds").and_then(|s| s.parse().ok()).unwrap_or(10);
    let path = flag("--server").unwrap_or_else(|| "target/release/pqcall".into());
    println!("stress: seed {seed}, {users_n} users x {devices_n} devices, {seconds} s");
    let mut rng = fastrand::Rng::with_seed(seed);

    let mut srv = start_server(
        &path,
        None,
        "--ring-timeout-ms 1000 --ticket-ttl-ms 1000 --stream-queue 16 --replay-events 1000000 --replay-secs 3600",
    )
    .await?;
    let users: Vec<String> = (0..users_n).map(|i| format!("u{i}-{seed:x}")).collect();
    let devices: Vec<Arc<Device>> = users
        .iter()
        .flat_map(|u| {
            (0..devices_n).map(|i| {
                Arc::new(Device {
                    user: u.clone(),
                    conn: Mutex::new(None),
                    last: Mutex::new(None),
                    seen: Mutex::new(Vec::new()),
                    changed: Notify::new(),
                    kill: Notify::new(),
                    slow: i == 1,
                })
            })
        })
        .collect();
    let world = Arc::new(World {
        base: srv.base.clone(),
        http: reqwest::Client::new(),
        devices,
        users: users.clone(),
        stats: Stats::default(),
        stop: AtomicBool::new(false),
    });

    // Every device connects before any traffic, so it is owed every event after.
    let mut readers = Vec::new();
    for d in &world.devices {
        readers.push(tokio::spawn(reader(
            world.clone(),
            d.clone(),
            fastrand::Rng::with_seed(rng.u64(..)),
        )));
    }
    for d in &world.devices {
        let deadline = Instant::now() + Duration::from_secs(30);
        while d.conn.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            let changed = d.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if d.conn.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                break;
            }
            tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), changed)
                .await
                .context("a device never connected")?;
        }
    }

    // Conversations of 2-4 random members.
    let mut convs = Vec::new();
    for _ in 0..users_n {
        let mut members: BTreeSet<usize> = BTreeSet::new();
        let size = rng.usize(2..=4.min(users_n));
        while members.len() < size {
            members.insert(rng.usize(..users_n));
        }
        let members: Vec<String> = members.into_iter().map(|i| users[i].clone()).collect();
        let r = world
            .ok(
                &members[0],
                None,
                "/api/conversations/create",
                json!({"members": members[1..]}),
            )
            .await?;
        convs.push((
            r["conversation_id"].as_str().context("conv")?.to_owned(),
            members,
        ));
    }
    let convs = Arc::new(convs);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let ends = Arc::new(Mutex::new(Vec::new()));

    let started = Instant::now();
    let mut load = Vec::new();
    for me in 0..4 {
        load.push(tokio::spawn(chatter(
            world.clone(),
            convs.clone(),
            sent.clone(),
            me,
            fastrand::Rng::with_seed(rng.u64(..)),
        )));
    }
    // Callers on disjoint pairs (a user is in one pair), so calls never meet.
    let mut order: Vec<usize> = (0..users_n).collect();
    rng.shuffle(&mut order);
    for pair in order.chunks(2).filter(|c| c.len() == 2) {
        let pairs = vec![(pair[0], pair[1]), (pair[1], pair[0])];
        load.push(tokio::spawn(caller(
            world.clone(),
            pairs,
            ends.clone(),
            fastrand::Rng::with_seed(rng.u64(..)),
        )));
    }
    // The killer: ends a random device's stream every few milliseconds.
    let killer = {
        let world = world.clone();
        let mut rng = fastrand::Rng::with_seed(rng.u64(..));
        tokio::spawn(async move {
            while started.elapsed() < Duration::from_secs(seconds) {
                tokio::time::sleep(Duration::from_millis(rng.u64(5..40))).await;
                world.devices[rng.usize(..world.devices.len())]
                    .kill
                    .notify_one();
            }
        })
    };
    killer.await?;
    world.stop.store(true, Ordering::SeqCst);
    for l in load {
        l.await??;
    }
    // A last event to every user: once every device has it, everything before it is in.
    let res = world
        .http
        .post(format!("{}/api/server/publish", world.base))
        .bearer_auth(SERVER_KEY)
        .json(&json!({"users": users, "event": "app.done", "data": {"mark": "end"}}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("publish: {}", res.status());
    }
    for r in readers {
        tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .context("a reader never finished")???;
    }

    // ---- checks -------------------------------------------------------------------
    let mut failures: Vec<String> = Vec::new();
    let id_of = |s: &str| {
        let (e, q) = s.split_once('-').unwrap_or(("0", "0"));
        (e.parse::<u64>().unwrap_or(0), q.parse::<u64>().unwrap_or(0))
    };
    let mut delivered = 0usize;
    for d in &world.devices {
        let seen = d.seen.lock().unwrap_or_else(|p| p.into_inner());
        delivered += seen.len();
        for w in seen.windows(2) {
            if id_of(&w[0].id) >= id_of(&w[1].id) {
                failures.push(format!(
                    "{}: {} then {} (out of order or duplicate)",
                    d.user, w[0].id, w[1].id
                ));
            }
        }
    }
    for u in &users {
        let devs = world.devices_of(u);
        let shared = |d: &Arc<Device>| -> Vec<String> {
            d.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|s| {
                    matches!(
                        s.name.as_str(),
                        "message.new" | "conversation.created" | "app.done"
                    )
                })
                .map(|s| s.id.clone())
                .collect()
        };
        let first = shared(&devs[0]);
        for d in &devs[1..] {
            if shared(d) != first {
                failures.push(format!("{u}: devices saw different chat sequences"));
            }
        }
    }
    let sent = sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // Per device: how many times it saw each message.
    let tallies: Vec<BTreeMap<String, usize>> = world
        .devices
        .iter()
        .map(|d| {
            let mut t = BTreeMap::new();
            for s in d.seen.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                if s.name == "message.new" {
                    *t.entry(s.key.clone()).or_insert(0) += 1;
                }
            }
            t
        })
        .collect();
    let members_of: BTreeMap<&String, &Vec<String>> = convs.iter().map(|(c, m)| (c, m)).collect();
    let mut expected = 0usize;
    for (conv, id) in &sent {
        let members = members_of.get(conv).context("conv")?;
        for m in members.iter() {
            for (_, tally) in world
                .devices
                .iter()
                .zip(&tallies)
                .filter(|(d, _)| d.user == *m)
            {
                expected += 1;
                let n = tally.get(id).copied().unwrap_or(0);
                if n != 1 {
                    failures.push(format!("{m}: message {id} seen {n} times"));
                }
            }
        }
    }
    let ends = std::mem::take(&mut *ends.lock().unwrap_or_else(|p| p.into_inner()));
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &ends {
        *outcomes.entry(e.outcome).or_default() += 1;
        for (d, name) in &e.finals {
            let n = d.count(name, &e.call_id);
            if n != 1 {
                failures.push(format!(
                    "{}: {name} for {} seen {n} times",
                    d.user, e.call_id
                ));
            }
        }
    }
    let resets = world.stats.resets.load(Ordering::Relaxed);
    if resets > 0 {
        failures.push(format!("{resets} resets: events were lost"));
    }
    // The server: every stream closed, every call final.
    let mut open = f64::NAN;
    let mut unfinished = f64::NAN;
    let mut metrics_text = String::new();
    for _ in 0..200 {
        metrics_text = reqwest::get(format!("{}/metrics", world.base))
            .await?
            .text()
            .await?;
        open = metric(&metrics_text, "pqcall_open_streams");
        unfinished = metric(&metrics_text, "pqcall_calls{state=\"ringing\"}")
            + metric(&metrics_text, "pqcall_calls{state=\"connecting\"}")
            + metric(&metrics_text, "pqcall_calls{state=\"active\"}");
        if open == 0.0 && unfinished == 0.0 {
            break;
        }
        // Stream cleanup runs as the connections close: look again shortly.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if open != 0.0 {
        failures.push(format!("{open} streams still open on the server"));
    }
    // Tasks: with every stream closed, what may still run is one timer per call (ring
    // timeout, then forgetting it), one grace timer per closed stream, and the server's
    // own few. A task left per request or per stream would exceed this.
    // Connection ids: each device keeps its own across every reconnect.
    let conns = metric(&metrics_text, "pqcall_connections");
    if conns > world.devices.len() as f64 {
        failures.push(format!(
            "{conns} connection ids known for {} devices",
            world.devices.len()
        ));
    }
    let tasks = metric(&metrics_text, "pqcall_runtime_alive_tasks");
    let reconnects = world.stats.reconnects.load(Ordering::Relaxed) as f64;
    // (plus the server side of the tool's pooled keep-alive connections).
    let bound = 2.0 * ends.len() as f64 + reconnects + world.devices.len() as f64 + 256.0;
    if tasks > bound {
        failures.push(format!(
            "{tasks} tasks alive on the server, more than the {bound} timers can explain"
        ));
    }
    if unfinished != 0.0 {
        failures.push(format!("{unfinished} calls not final on the server"));
    }
    let s = &world.stats;
    println!("  ran {:.1} s", started.elapsed().as_secs_f64());
    println!(
        "  events delivered {delivered} (reader count {}), messages acknowledged {} (retried sends {}), deliveries expected {expected}",
        s.events.load(Ordering::Relaxed),
        s.messages.load(Ordering::Relaxed),
        s.retries.load(Ordering::Relaxed)
    );
    println!("  calls {} {:?}", ends.len(), outcomes);
    println!(
        "  streams killed {}, reconnects {}, slow-consumer ends {}, replayed tickets refused {}, expired tickets refused {}, resets {resets}",
        s.kills.load(Ordering::Relaxed),
        s.reconnects.load(Ordering::Relaxed),
        metric(&metrics_text, "pqcall_slow_consumer_ends"),
        s.replayed_tickets_refused.load(Ordering::Relaxed),
        s.expired_tickets_refused.load(Ordering::Relaxed)
    );
    println!(
        "  server: open streams {open}, unfinished calls {unfinished}, alive tasks {tasks} (bound {bound}), known connections {conns}"
    );
    srv.child.kill().await.ok();
    if failures.is_empty() {
        println!("  OK: losses 0, duplicates 0, out of order 0 (seed {seed})");
        Ok(())
    } else {
        for f in failures.iter().take(20) {
            println!("  FAIL: {f}");
        }
        bail!("{} checks failed (seed {seed})", failures.len())
    }
}
