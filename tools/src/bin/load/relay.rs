//! `load relay`: call-signaling relay latency and server CPU per message.

use anyhow::Context;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use pqcall_tools::server::{Server, token};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Instant;

use super::*;

/// An SSE stream for the user of token `t` on `base`, after its hello: the stream and
/// the device's connection id.
async fn open_stream(
    http: &reqwest::Client,
    base: &str,
    t: String,
) -> anyhow::Result<(Events, String)> {
    let tk = post(http, base, &t, None, "/api/auth/authenticate", &json!({})).await?;
    let res = http
        .get(format!(
            "{base}/api/events?ticket={}",
            tk["sse_ticket"].as_str().unwrap_or_default()
        ))
        .send()
        .await?;
    let mut ev: Events = Box::pin(res.bytes_stream().eventsource());
    let hello = ev.next().await.context("hello")??;
    let conn = serde_json::from_str::<Value>(&hello.data)?["conn_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((ev, conn))
}

type Events = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = Result<
                    eventsource_stream::Event,
                    eventsource_stream::EventStreamError<reqwest::Error>,
                >,
            > + Send,
    >,
>;

/// The commands Redis ran between two `INFO commandstats` readings, most first (the
/// tool's own `INFO` left out).
fn redis_delta(r0: &BTreeMap<String, u64>, r1: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut by: Vec<(String, u64)> = r1
        .iter()
        .map(|(k, v)| (k.clone(), v - r0.get(k).copied().unwrap_or(0)))
        .filter(|(k, d)| *d > 0 && k != "info")
        .collect();
    by.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    by
}

/// `name n.n, …`: each command's count divided by `per`.
fn per_command(by: &[(String, u64)], per: f64) -> String {
    let each: Vec<String> = by
        .iter()
        .map(|(k, d)| format!("{k} {:.1}", *d as f64 / per))
        .collect();
    each.join(", ")
}

/// The CPU ticks `server` and `callee` have used (once when they are one process).
fn cpu_ticks(server: &Server, callee: &Server) -> anyhow::Result<u64> {
    let a = proc_usage(server.pid)?.0;
    if server.pid == callee.pid {
        return Ok(a);
    }
    Ok(a + proc_usage(callee.pid)?.0)
}

/// Callers' devices on `server`, Bob's on `callee` (another node in cluster mode). The
/// offers rotate over 64 callers, so each stays within a realistic offer rate and its
/// state stays small (a caller's record lists its offers of the last minute).
pub(crate) async fn relay(server: &Server, callee: &Server, count: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let (alice_id, bob_id) = (format!("alice-{s:x}"), format!("bob-{s:x}"));
    let bob = token(&bob_id);
    let mut callers = Vec::new();
    for i in 0..64 {
        let t = token(&format!("{alice_id}-{i}"));
        let (events, conn) = open_stream(&http, &server.base, t.clone()).await?;
        callers.push((t, conn, events));
    }

    let (mut bob_events, _) = open_stream(&http, &callee.base, bob.clone()).await?;
    let (_, kem) = pqcall_crypto::Caller::start()?;
    let offer = json!({"to": bob_id, "sdp": "a=x".repeat(3400 / 3), "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}});
    println!("offer body: {} bytes", offer.to_string().len());
    let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
    let mut samples = Vec::with_capacity(count);
    let warmup = count / 10;
    let clustered = server.pid != callee.pid;
    let cpu = || cpu_ticks(server, callee);
    let (mut t0, mut c0) = (Instant::now(), cpu()?);
    let mut r0 = BTreeMap::new();
    for i in 0..warmup + count {
        if i == warmup {
            t0 = Instant::now();
            c0 = cpu()?;
            if clustered {
                r0 = redis_calls().await?;
            }
        }
        let start = Instant::now();
        let r = post(
            &http,
            &server.base,
            &callers[i % callers.len()].0,
            Some(&callers[i % callers.len()].1),
            "/api/calls/offer",
            &offer,
        )
        .await?;
        let call_id = r["call_id"].as_str().unwrap_or_default().to_owned();
        loop {
            let e = bob_events.next().await.context("stream ended")??;
            if e.event == "call.offer" {
                break;
            }
        }
        if i >= warmup {
            hist.record(start.elapsed().as_micros() as u64)?;
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
        // Cancel it so nothing accumulates (not timed).
        post(
            &http,
            &server.base,
            &callers[i % callers.len()].0,
            Some(&callers[i % callers.len()].1),
            "/api/calls/end",
            &json!({"call_id": call_id}),
        )
        .await?;
        loop {
            let e = bob_events.next().await.context("stream ended")??;
            if e.event == "call.ended" {
                break;
            }
        }
    }
    let wall = t0.elapsed();
    let ticks = cpu()? - c0;
    if clustered {
        let r1 = redis_calls().await?;
        let by = redis_delta(&r0, &r1);
        let total: u64 = by.iter().map(|(_, d)| d).sum();
        // Each relayed offer is one offer and one cancel: two POSTs, two events.
        let events = (2 * count) as f64;
        println!(
            "  Redis commands per relayed event (offer + cancel, divided by 2): {:.1}",
            total as f64 / events
        );
        println!(
            "    by command (scripts' own calls included): {}",
            per_command(&by, events)
        );
    }
    let (u, sy) = proc_ticks(server.pid)?;
    let tick_us = 1_000_000 / 100; // USER_HZ is 100 on Linux
    println!("relay of {count} offers (3.4 KB SDP), POST -> SSE event, one way, µs:");
    print_latency(&hist);
    println!(
        "  server CPU per relayed offer (offer + cancel, both POSTs and both events): {:.1} µs over {:.1} s",
        (ticks * tick_us) as f64 / count as f64,
        wall.as_secs_f64()
    );
    println!("  server CPU split over its whole life: user {u} ticks, system {sy} ticks");
    save_csv("pqcall POST+SSE", &samples)?;
    // The floor on this machine: one HTTP round trip to the same server.
    let mut floor = hdrhistogram::Histogram::<u64>::new(3)?;
    for _ in 0..count {
        let start = Instant::now();
        http.get(format!("{}/healthz", server.base))
            .send()
            .await?
            .bytes()
            .await?;
        floor.record(start.elapsed().as_micros() as u64)?;
    }
    println!(
        "  floor, GET /healthz round trip, µs: p50 {}  p99 {}",
        floor.value_at_quantile(0.5),
        floor.value_at_quantile(0.99)
    );
    Ok(())
}

/// The relay anchor's batch (benches/fixtures/ice-batch.json, which benches/peerjs and
/// the allocation bench read too): 20 host candidates, about 3.3 KB of JSON; `seq` rides
/// in the first.
fn ice_batch(seq: usize) -> Value {
    static BATCH: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
        let fixture = include_str!("../../../../benches/fixtures/ice-batch.json");
        serde_json::from_str(fixture).expect("the fixture is JSON")
    });
    let mut batch = BATCH.clone();
    if let Some(first) = batch[0]["candidate"].as_str() {
        batch[0]["candidate"] = first.replace("{seq}", &seq.to_string()).into();
    }
    batch
}

/// `load relay --ice`: the same 3.3 KB ICE batch relayed inside an answered call, alice
/// (on `server`) to bob (on `callee`, another node in cluster mode), `POST
/// /api/calls/ice` -> `call.ice`, `inflight` at a time: one-way latency, server CPU per
/// message (summed over the nodes), messages a second, and in cluster mode Redis's
/// commands and CPU per message.
pub(crate) async fn relay_ice(
    server: &Server,
    callee: &Server,
    count: usize,
    inflight: usize,
) -> anyhow::Result<()> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let http = reqwest::Client::new();
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let (alice_id, bob_id) = (format!("alice-{s:x}"), format!("bob-{s:x}"));
    let (ta, tb) = (token(&alice_id), token(&bob_id));
    let (mut alice_events, ca) = open_stream(&http, &server.base, ta.clone()).await?;
    let (mut bob_events, cb) = open_stream(&http, &callee.base, tb.clone()).await?;
    let (_, kem) = pqcall_crypto::Caller::start()?;
    let offer = json!({"to": bob_id, "sdp": "v=0\r\n", "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}});
    let call = post(
        &http,
        &server.base,
        &ta,
        Some(&ca),
        "/api/calls/offer",
        &offer,
    )
    .await?;
    let call_id = call["call_id"].as_str().unwrap_or_default().to_owned();
    let ct = pqcall_crypto::wire::encode(&[0; 1088]);
    let answer = json!({"call_id": call_id, "sdp": "v=0\r\n", "kem": {"ct": ct}});
    post(
        &http,
        &callee.base,
        &tb,
        Some(&cb),
        "/api/calls/answer",
        &answer,
    )
    .await?;
    loop {
        if alice_events.next().await.context("stream ended")??.event == "call.answer" {
            break;
        }
    }
    println!(
        "ice batch body: {} bytes",
        json!({"call_id": call_id, "candidates": ice_batch(0), "done": false})
            .to_string()
            .len()
    );
    let sent: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let slots = Arc::new(tokio::sync::Semaphore::new(inflight.max(1)));
    let send = |seq: usize| {
        let (http, base, ta, ca) = (http.clone(), server.base.clone(), ta.clone(), ca.clone());
        let body = json!({"call_id": call_id, "candidates": ice_batch(seq), "done": false});
        async move { post(&http, &base, &ta, Some(&ca), "/api/calls/ice", &body).await }
    };
    // The receiver: one-way latency of each batch, and a free slot for the next.
    let receiver = {
        let (sent, slots) = (sent.clone(), slots.clone());
        let total = 200 + count;
        tokio::spawn(async move {
            let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
            let mut got = 0;
            while got < total {
                let e = bob_events.next().await.context("stream ended")??;
                if e.event != "call.ice" {
                    continue;
                }
                let seq: usize = e
                    .data
                    .split("candidate:")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .context("seq")?;
                let at = sent.lock().unwrap_or_else(|p| p.into_inner()).remove(&seq);
                if let Some(at) = at {
                    if seq < count {
                        hist.record(at.elapsed().as_micros() as u64)?;
                    }
                    got += 1;
                    slots.add_permits(1);
                }
            }
            anyhow::Ok(hist)
        })
    };
    // Warm-up: 200 one at a time (their seq numbers above `count`).
    for i in 0..200 {
        slots.acquire().await?.forget();
        sent.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(count + i, Instant::now());
        send(count + i).await?;
    }
    let _ = slots.acquire_many(inflight.max(1) as u32).await?;
    let clustered = server.pid != callee.pid;
    let cpu = || cpu_ticks(server, callee);
    let redis = || async move {
        if clustered {
            Ok((redis_calls().await?, redis_cpu_us().await?))
        } else {
            anyhow::Ok(Default::default())
        }
    };
    let r0 = redis().await?;
    let (t0, c0) = (Instant::now(), cpu()?);
    let mut posts = tokio::task::JoinSet::new();
    for seq in 0..count {
        slots.acquire().await?.forget();
        sent.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(seq, Instant::now());
        posts.spawn(send(seq));
        while let Some(done) = posts.try_join_next() {
            done??;
        }
    }
    while let Some(done) = posts.join_next().await {
        done??;
    }
    let hist = receiver.await??;
    let wall = t0.elapsed();
    let ticks = cpu()? - c0;
    let r1 = redis().await?;
    println!(
        "relay of {count} ICE batches (3.3 KB), {inflight} in flight, POST -> SSE event, one way, µs:"
    );
    print_latency(&hist);
    println!(
        "  server CPU per message: {:.1} µs; {:.0} messages/s over {:.1} s",
        (ticks * 10_000) as f64 / count as f64,
        count as f64 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
    if clustered {
        let per = |d: u64| d as f64 / count as f64;
        let by = redis_delta(&r0.0, &r1.0);
        let scripts: u64 = by
            .iter()
            .filter(|(k, _)| k.starts_with("eval"))
            .map(|(_, d)| d)
            .sum();
        let total: u64 = by.iter().map(|(_, d)| d).sum();
        println!(
            "  Redis per message: {:.1} commands (scripts' own included), {:.1} scripts, {:.1} µs of Redis CPU",
            per(total),
            per(scripts),
            (r1.1 - r0.1) / count as f64
        );
        println!("    by command: {}", per_command(&by, count as f64));
    }
    Ok(())
}
