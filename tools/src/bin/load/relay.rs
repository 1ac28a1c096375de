//! `load relay`: call-signaling relay latency and server CPU per message.

use anyhow::Context;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use pqcall_tools::server::{Server, token};
use serde_json::{Value, json};
use std::time::Instant;

use super::*;

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
    let open = |t: String, server: &Server| {
        let (http, base) = (http.clone(), server.base.clone());
        async move {
            let tk = post(&http, &base, &t, None, "/api/auth/authenticate", &json!({})).await?;
            let res = http
                .get(format!(
                    "{base}/api/events?ticket={}",
                    tk["sse_ticket"].as_str().unwrap_or_default()
                ))
                .send()
                .await?;
            let mut ev = Box::pin(res.bytes_stream().eventsource());
            let hello = ev.next().await.context("hello")??;
            let conn = serde_json::from_str::<Value>(&hello.data)?["conn_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            anyhow::Ok((ev, conn))
        }
    };
    let mut callers = Vec::new();
    for i in 0..64 {
        let t = token(&format!("{alice_id}-{i}"));
        let (events, conn) = open(t.clone(), server).await?;
        callers.push((t, conn, events));
    }

    let (mut bob_events, _) = open(bob.clone(), callee).await?;
    let (_, kem) = pqcall_crypto::Caller::start()?;
    let offer = json!({"to": bob_id, "sdp": "a=x".repeat(3400 / 3), "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}});
    println!("offer body: {} bytes", offer.to_string().len());
    let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
    let mut samples = Vec::with_capacity(count);
    let warmup = count / 10;
    let clustered = server.pid != callee.pid;
    let cpu = || -> anyhow::Result<u64> {
        let a = proc_usage(server.pid)?.0;
        Ok(if clustered {
            a + proc_usage(callee.pid)?.0
        } else {
            a
        })
    };
    let (mut t0, mut c0) = (Instant::now(), cpu()?);
    let mut r0 = std::collections::BTreeMap::new();
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
        let mut by: Vec<(String, u64)> = r1
            .iter()
            .map(|(k, v)| (k.clone(), v - r0.get(k).copied().unwrap_or(0)))
            .filter(|(_, d)| *d > 0)
            .collect();
        by.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        let total: u64 = by.iter().map(|(_, d)| d).sum();
        // Each relayed offer is one offer and one cancel: two POSTs, two events.
        println!(
            "  Redis commands per relayed event (offer + cancel, divided by 2): {:.1}",
            total as f64 / (2 * count) as f64
        );
        let per: Vec<String> = by
            .iter()
            .map(|(k, d)| format!("{k} {:.1}", *d as f64 / (2 * count) as f64))
            .collect();
        println!(
            "    by command (scripts' own calls included): {}",
            per.join(", ")
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
