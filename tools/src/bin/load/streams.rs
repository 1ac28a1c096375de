//! `load idle` and `load streams`: memory per open stream, stream churn, the soak.

use anyhow::{Context, bail};
use futures_util::StreamExt;
use pqcall_tools::server::{Server, token};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// Idle streams multiplexed over a few HTTP/2 connections, as browsers use them, so
/// connection buffers are shared: h2 over TLS when the server was started with
/// `--tls-self-signed` (its certificate is not checked), else h2c.
pub(crate) async fn idle_h2(server: &Server, streams: usize) -> anyhow::Result<()> {
    let tls = server.base.starts_with("https://");
    let client = || {
        let builder = reqwest::Client::builder();
        if tls {
            builder.danger_accept_invalid_certs(true)
        } else {
            builder.http2_prior_knowledge()
        }
    };
    let http = client().build()?;
    // 30 streams per connection: the server allows 32 requests at once on one.
    const PER_CONN: usize = 30;
    let conns: Vec<reqwest::Client> = (0..streams.div_ceil(PER_CONN))
        .map(|_| client().build())
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
        let res = conns[i / PER_CONN]
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
        "{streams} idle SSE streams over {} HTTP/2 connections ({}) opened in {:.1} s; server RSS {:.1} MiB -> {:.1} MiB: {:.0} bytes per stream",
        conns.len(),
        if tls { "TLS" } else { "h2c" },
        started.elapsed().as_secs_f64(),
        rss0 as f64 / 1048576.0,
        rss1 as f64 / 1048576.0,
        (rss1.saturating_sub(rss0)) as f64 / streams as f64
    );
    Ok(())
}

/// Opens one raw HTTP/1.1 SSE stream for `user` from source address `src`.
pub(crate) async fn raw_stream(
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
pub(crate) async fn streams(
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

pub(crate) async fn idle(server: &Server, streams: usize) -> anyhow::Result<()> {
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
