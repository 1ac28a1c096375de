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
//! cargo build --release --bin pqcall && cargo build --release -p pqcall-tools
//! target/release/stress --seed 42 --users 16 --devices 2 --seconds 60
//! ```
//!
//! Flags: `--seed N` (printed; the same seed makes the same choices), `--users`,
//! `--devices`, `--seconds`, `--server PATH` (default `target/release/pqcall`). It
//! starts the server itself on 127.0.0.1, sends traffic only there, and stops by itself.
//! Exit status 1 when a check fails.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pqcall_tools::server::{SERVER_KEY, start_server};
use serde_json::json;
use tokio::sync::Notify;

mod actors;
mod world;
use actors::*;
use world::*;

pub(crate) fn metric(text: &str, name: &str) -> f64 {
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
