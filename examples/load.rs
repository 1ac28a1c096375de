//! Load tool: relay latency and idle-stream memory, against a `pqcall` server process.
//!
//! ```sh
//! cargo build --release --bin pqcall --example load
//! # POST -> SSE one-way latency for 3.4 KB offers, and server CPU per relayed offer:
//! target/release/examples/load relay --count 5000
//! # the same across two cluster nodes on the local Redis and PostgreSQL (build with
//! # --features cluster), with Redis commands per relayed event:
//! target/release/examples/load relay --count 5000 --cluster
//! # server memory per idle SSE stream, with 10k streams from 127.0.0.x addresses:
//! target/release/examples/load idle --streams 10000
//! # N streams receiving M messages per second for D seconds: delivery latency, memory:
//! target/release/examples/load streams --streams 10000 --rate 2000 --seconds 10
//! # the soak: 10k streams for 10 minutes, server memory every 10 s (benches/plot_rss.py),
//! # with a 2-minute replay window so the retained logs reach their steady size early:
//! target/release/examples/load streams --streams 10000 --rate 200 --seconds 600 \
//!     --server-args "--replay-secs 120" --rss-csv soak.csv
//! # one event to all 10k streams (one user, 10k devices), 5 times a second:
//! target/release/examples/load streams --streams 10000 --one-user --rate 5 --seconds 10
//! # the same, multiplexed over HTTP/2 connections of 100 streams each:
//! target/release/examples/load idle --streams 10000 --h2
//! ```
//! # the same relay workload over a plain axum WebSocket relay, for comparison:
//! target/release/examples/load ws-relay --count 5000
//! # add --csv FILE to relay or ws-relay to save every sample (for benches/plot.py)
//! ```
//! It starts the server itself (`--server`, default `target/release/pqcall`) on
//! 127.0.0.1, sends traffic only there, and stops by itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

#[path = "common/server.rs"]
mod server;
use server::{Server, start_server, start_server_cmd, token};

/// User and system CPU ticks of a process.
fn proc_ticks(pid: u32) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit(')').next().context("stat")?;
    let f: Vec<&str> = after.split_whitespace().collect();
    Ok((f[11].parse()?, f[12].parse()?))
}

/// (utime + stime) in clock ticks, and resident set size in bytes, of a process.
fn proc_usage(pid: u32) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit(')').next().context("stat")?;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .context("VmRSS")?
        .parse::<u64>()?;
    Ok((ticks, rss_kb * 1024))
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    conn: Option<&str>,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let mut req = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body);
    if let Some(c) = conn {
        req = req.header("X-Pqcall-Conn", c);
    }
    let res = req.send().await?;
    if !res.status().is_success() {
        bail!("{path}: {} {}", res.status(), res.text().await?);
    }
    Ok(res.json().await?)
}

/// Commands Redis has run, by name (from `INFO commandstats`).
async fn redis_calls() -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let mut con = redis::Client::open("redis://127.0.0.1:6379")?
        .get_multiplexed_async_connection()
        .await?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await?;
    Ok(info
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect())
}

/// Callers' devices on `server`, Bob's on `callee` (another node in cluster mode). The
/// offers rotate over 64 callers, so each stays within a realistic offer rate and its
/// state stays small (a caller's record lists its offers of the last minute).
async fn relay(server: &Server, callee: &Server, count: usize) -> anyhow::Result<()> {
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
    println!(
        "  p50 {}  p90 {}  p99 {}  max {}  mean {:.1}",
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.9),
        hist.value_at_quantile(0.99),
        hist.max(),
        hist.mean()
    );
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

/// Idle streams multiplexed over a few HTTP/2 connections (as browsers behind a TLS
/// proxy would use), so connection buffers are shared.
async fn idle_h2(server: &Server, streams: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let conns: Vec<reqwest::Client> = (0..streams.div_ceil(100))
        .map(|_| reqwest::Client::builder().http2_prior_knowledge().build())
        .collect::<Result<_, _>>()?;
    let (_, rss0) = proc_usage(server.pid)?;
    let started = Instant::now();
    let mut open = Vec::with_capacity(streams);
    for i in 0..streams {
        let t = post(
            &http,
            &server.base,
            &token(&format!("u{i}")),
            None,
            "/api/auth/authenticate",
            &json!({}),
        )
        .await?;
        let res = conns[i / 100]
            .get(format!(
                "{}/api/events?ticket={}",
                server.base,
                t["sse_ticket"].as_str().unwrap_or_default()
            ))
            .send()
            .await?;
        if res.version() != reqwest::Version::HTTP_2 {
            bail!("not HTTP/2: {:?}", res.version());
        }
        let mut body = Box::pin(res.bytes_stream());
        let first = body.next().await.context("hello")??;
        if !String::from_utf8_lossy(&first).contains("hello") {
            bail!("no hello");
        }
        open.push(body);
    }
    let (_, rss1) = proc_usage(server.pid)?;
    println!(
        "{streams} idle SSE streams over {} HTTP/2 connections opened in {:.1} s; server RSS {:.1} MiB -> {:.1} MiB: {:.0} bytes per stream",
        conns.len(),
        started.elapsed().as_secs_f64(),
        rss0 as f64 / 1048576.0,
        rss1 as f64 / 1048576.0,
        (rss1.saturating_sub(rss0)) as f64 / streams as f64
    );
    Ok(())
}

/// `--rss-csv FILE`: seconds since start and server RSS in MiB, one line each.
fn save_rss_curve(curve: &[(f64, u64)]) -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args
        .iter()
        .position(|a| a == "--rss-csv")
        .and_then(|i| args.get(i + 1))
    else {
        return Ok(());
    };
    let mut out = String::from("seconds,rss_mib\n");
    for (t, rss) in curve {
        out.push_str(&format!("{t:.1},{:.2}\n", *rss as f64 / 1048576.0));
    }
    std::fs::write(path, out)?;
    println!("  RSS curve ({} samples) saved to {path}", curve.len());
    Ok(())
}

fn save_csv(label: &str, samples: &[f64]) -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = args
        .iter()
        .position(|a| a == "--csv")
        .and_then(|i| args.get(i + 1))
    {
        let mut out = String::from("transport,latency_us\n");
        for s in samples {
            out.push_str(&format!("{label},{s:.1}\n"));
        }
        std::fs::write(path, out)?;
        println!("  samples written to {path}");
    }
    Ok(())
}

/// A minimal WebSocket relay written for the comparison: `/ws?user=X`; a text frame
/// `{"to": user, ...}` is forwarded as is to every socket of `to`.
async fn ws_server() -> anyhow::Result<()> {
    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use axum::extract::{Query, State};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    type Peers = Arc<Mutex<HashMap<String, Vec<tokio::sync::mpsc::UnboundedSender<Message>>>>>;
    async fn socket(ws: WebSocket, user: String, peers: Peers) {
        let (mut tx, mut rx) = ws.split();
        let (out, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut p) = peers.lock() {
            p.entry(user).or_default().push(out);
        }
        tokio::spawn(async move {
            use futures_util::SinkExt;
            while let Some(m) = out_rx.recv().await {
                if tx.send(m).await.is_err() {
                    break;
                }
            }
        });
        while let Some(Ok(Message::Text(t))) = rx.next().await {
            let to = serde_json::from_str::<Value>(&t)
                .ok()
                .and_then(|v| v["to"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if let Ok(p) = peers.lock() {
                for s in p.get(&to).into_iter().flatten() {
                    let _ = s.send(Message::Text(t.clone()));
                }
            }
        }
    }
    let peers: Peers = Arc::default();
    let app = axum::Router::new()
        .route(
            "/ws",
            axum::routing::get(
                |ws: WebSocketUpgrade,
                 Query(q): Query<HashMap<String, String>>,
                 State(p): State<Peers>| async move {
                    let user = q.get("user").cloned().unwrap_or_default();
                    ws.on_upgrade(move |s| socket(s, user, p))
                },
            ),
        )
        .with_state(peers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("ws relay listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn ws_relay(count: usize) -> anyhow::Result<()> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let exe = std::env::current_exe()?;
    let server = start_server_cmd(Command::new(exe).arg("ws-server")).await?;
    let ws = |user: &str| format!("ws://{}/ws?user={user}", server.addr);
    let (mut alice, _) = tokio_tungstenite::connect_async(ws("alice")).await?;
    let (mut bob, _) = tokio_tungstenite::connect_async(ws("bob")).await?;
    let (_, kem) = pqcall_crypto::Caller::start()?;
    let offer = json!({"to": "bob", "sdp": "a=x".repeat(3400 / 3), "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}}).to_string();
    let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
    let mut samples = Vec::with_capacity(count);
    let warmup = count / 10;
    let mut c0 = proc_usage(server.pid)?.0;
    for i in 0..warmup + count {
        if i == warmup {
            c0 = proc_usage(server.pid)?.0;
        }
        let start = Instant::now();
        alice.send(Message::text(offer.clone())).await?;
        loop {
            match bob.next().await.context("ws closed")?? {
                Message::Text(_) => break,
                _ => continue,
            }
        }
        if i >= warmup {
            hist.record(start.elapsed().as_micros() as u64)?;
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    let ticks = proc_usage(server.pid)?.0 - c0;
    println!(
        "WebSocket relay of {count} offers (same 5.1 KB message), send -> receive, one way, µs:"
    );
    println!(
        "  p50 {}  p90 {}  p99 {}  max {}  mean {:.1}",
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.9),
        hist.value_at_quantile(0.99),
        hist.max(),
        hist.mean()
    );
    println!(
        "  server CPU per relayed message: {:.1} µs",
        (ticks * 10_000) as f64 / count as f64
    );
    save_csv("axum WebSocket", &samples)?;
    Ok(())
}

/// Opens one raw HTTP/1.1 SSE stream for `user` from source address `src`.
async fn raw_stream(
    server: &Server,
    http: &reqwest::Client,
    user: &str,
    src: IpAddr,
) -> anyhow::Result<tokio::net::TcpStream> {
    let t = post(
        http,
        &server.base,
        &token(user),
        None,
        "/api/auth/authenticate",
        &json!({}),
    )
    .await?;
    let ticket = t["sse_ticket"].as_str().unwrap_or_default().to_owned();
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(src, 0))?;
    let mut s = sock.connect(server.addr).await?;
    s.write_all(format!("GET /api/events?ticket={ticket} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n").as_bytes()).await?;
    let mut buf = vec![0u8; 2048];
    let mut got = String::new();
    while !got.contains("event: hello") {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            bail!("stream for {user} closed: {got}");
        }
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    Ok(s)
}

/// N streams (one user each, from 127.0.0.x), M messages per second published through
/// `POST /api/server/publish` to random users for D seconds; every stream records the
/// delivery latency of what it receives. Bounded: stops after D seconds plus a drain.
async fn streams(
    server: &Server,
    n: usize,
    rate: usize,
    seconds: u64,
    one_user: bool,
) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let http = reqwest::Client::new();
    let (_, rss0) = proc_usage(server.pid)?;
    let base = Instant::now();
    let hist = Arc::new(std::sync::Mutex::new(hdrhistogram::Histogram::<u64>::new(
        3,
    )?));
    let received = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::with_capacity(n);
    for i in 0..n {
        let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, (2 + (i / 5000) % 250) as u8));
        let user = if one_user {
            "fan".to_owned()
        } else {
            format!("u{i}")
        };
        let mut s = raw_stream(server, &http, &user, src).await?;
        let (hist, received) = (hist.clone(), received.clone());
        readers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut pending = String::new();
            while let Ok(k) = s.read(&mut buf).await {
                if k == 0 {
                    break;
                }
                pending.push_str(&String::from_utf8_lossy(&buf[..k]));
                while let Some(end) = pending.find("\n\n") {
                    let frame: String = pending.drain(..end + 2).collect();
                    if let Some(t) = frame
                        .split("\"t\":")
                        .nth(1)
                        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                        .and_then(|v| v.parse::<u64>().ok())
                    {
                        let now = base.elapsed().as_micros() as u64;
                        if let Ok(mut h) = hist.lock() {
                            let _ = h.record(now.saturating_sub(t));
                        }
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let (_, rss1) = proc_usage(server.pid)?;
    println!(
        "{n} streams open; server RSS {:.1} MiB -> {:.1} MiB ({:.0} bytes per stream)",
        rss0 as f64 / 1048576.0,
        rss1 as f64 / 1048576.0,
        (rss1.saturating_sub(rss0)) as f64 / n as f64
    );
    // Publish at `rate` per second, in ticks of 10 ms.
    // Ticks of 10 ms, or one tick per message below 100 per second.
    let tick_ms = (1000 / rate.max(1) as u64).max(10);
    let per_tick = (rate * tick_ms as usize / 1000).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(tick_ms));
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut sent = 0u64;
    let (c0, _) = proc_usage(server.pid)?;
    let until = Instant::now() + Duration::from_secs(seconds);
    // The soak's memory curve: server RSS every 10 s (saved with --rss-csv FILE).
    let mut rss_curve: Vec<(f64, u64)> = Vec::new();
    let mut next_sample = Instant::now();
    while Instant::now() < until {
        if Instant::now() >= next_sample {
            rss_curve.push((base.elapsed().as_secs_f64(), proc_usage(server.pid)?.1));
            next_sample += Duration::from_secs(10);
        }
        tick.tick().await;
        for _ in 0..per_tick {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let user = if one_user {
                "fan".to_owned()
            } else {
                format!("u{}", rng % n as u64)
            };
            let t = base.elapsed().as_micros() as u64;
            let res = http
                .post(format!("{}/api/server/publish", server.base))
                .bearer_auth("load-tool-server-key")
                .json(&json!({"users": [user], "event": "app.load", "data": {"t": t}}))
                .send()
                .await?;
            if !res.status().is_success() {
                bail!("publish: {}", res.status());
            }
            sent += if one_user { n as u64 } else { 1 };
        }
    }
    let (c1, rss2) = proc_usage(server.pid)?;
    rss_curve.push((base.elapsed().as_secs_f64(), rss2));
    save_rss_curve(&rss_curve)?;
    // Drain: wait (bounded) until everything sent has arrived.
    let drain_until = Instant::now() + Duration::from_secs(10);
    while received.load(Ordering::Relaxed) < sent && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = received.load(Ordering::Relaxed);
    let h = hist
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    println!(
        "published {} events ({sent} deliveries expected) in {seconds} s to {n} streams; delivered {got} ({} lost)",
        if one_user { sent / n as u64 } else { sent },
        sent.saturating_sub(got)
    );
    println!(
        "delivery latency, publish start -> parsed by the stream, µs: p50 {}  p90 {}  p99 {}  max {}",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.max()
    );
    println!(
        "server CPU {:.1} µs per message; RSS at the end {:.1} MiB",
        ((c1 - c0) * 10_000) as f64 / sent.max(1) as f64,
        rss2 as f64 / 1048576.0
    );
    for r in readers {
        r.abort();
    }
    Ok(())
}

async fn idle(server: &Server, streams: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let (_, rss0) = proc_usage(server.pid)?;
    let mut socks = Vec::with_capacity(streams);
    let started = Instant::now();
    for i in 0..streams {
        // Spread sources over 127.0.0.2 .. so no address runs out of ports.
        let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, (2 + (i / 5000) % 250) as u8));
        let s = raw_stream(server, &http, &format!("u{i}"), src).await?;
        socks.push(s);
        if (i + 1) % 2000 == 0 {
            println!("  {} streams open", i + 1);
        }
    }
    let (_, rss1) = proc_usage(server.pid)?;
    println!(
        "{streams} idle SSE streams (each its own user) opened in {:.1} s; server RSS {:.1} MiB -> {:.1} MiB: {:.0} bytes per stream",
        started.elapsed().as_secs_f64(),
        rss0 as f64 / 1048576.0,
        rss1 as f64 / 1048576.0,
        (rss1.saturating_sub(rss0)) as f64 / streams as f64
    );
    drop(socks);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let server_path = args
        .iter()
        .position(|a| a == "--server")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "target/release/pqcall".into());
    if let Ok(n) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("open file limit: {n}");
    }
    match args.get(1).map(String::as_str) {
        Some("ws-server") => return ws_server().await,
        Some("ws-relay") => return ws_relay(flag("--count", 5000)).await,
        _ => {}
    }
    if args.get(1).map(String::as_str) == Some("relay") && args.iter().any(|a| a == "--cluster") {
        // Two nodes on the local Redis and PostgreSQL: caller on one, callee on the other.
        let prefix = format!("pqcall-load-{}", std::process::id());
        let mut a = start_server(&server_path, Some(&prefix), "").await?;
        let mut b = start_server(&server_path, Some(&prefix), "").await?;
        println!("cluster: caller on {}, callee on {}", a.base, b.base);
        let result = relay(&a, &b, flag("--count", 5000)).await;
        a.child.kill().await.ok();
        b.child.kill().await.ok();
        return result;
    }
    // `--server-args "FLAGS"`: more `serve` flags (e.g. a shorter replay window).
    let extra = args
        .iter()
        .position(|a| a == "--server-args")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_default();
    let mut server = start_server(&server_path, None, &extra).await?;
    let result = match args.get(1).map(String::as_str) {
        Some("relay") => relay(&server, &server, flag("--count", 5000)).await,
        Some("streams") => {
            let (n, rate, secs) = (
                flag("--streams", 1000).min(10_000),
                flag("--rate", 1000).min(20_000),
                flag("--seconds", 10).min(600),
            );
            streams(
                &server,
                n,
                rate,
                secs as u64,
                args.iter().any(|a| a == "--one-user"),
            )
            .await
        }
        Some("idle") if args.iter().any(|a| a == "--h2") => {
            idle_h2(&server, flag("--streams", 10_000)).await
        }
        Some("idle") => idle(&server, flag("--streams", 10_000)).await,
        _ => Err(anyhow::anyhow!(
            "usage: load relay [--count N] [--csv F] [--cluster] | ws-relay [--count N] [--csv F] | streams [--streams N] [--rate M] [--seconds D] | idle [--streams N] [--h2] [--server PATH]"
        )),
    };
    server.child.kill().await.ok();
    result
}
