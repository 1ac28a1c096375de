//! Load tool: relay latency and idle-stream memory, against a `pqcall` server process.
//!
//! ```sh
//! cargo build --release --bin pqcall && cargo build --release -p pqcall-tools
//! # POST -> SSE one-way latency for 3.4 KB offers, and server CPU per relayed offer:
//! target/release/load relay --count 5000
//! # the same across two cluster nodes on the local Redis and PostgreSQL (build with
//! # --features cluster), with Redis commands per relayed event:
//! target/release/load relay --count 5000 --cluster
//! # server memory per idle SSE stream, with 10k streams from 127.0.0.x addresses:
//! target/release/load idle --streams 10000
//! # N streams receiving M messages per second for D seconds: delivery latency, memory:
//! target/release/load streams --streams 10000 --rate 2000 --seconds 10
//! # the soak: 10k streams for 10 minutes, server memory every 10 s (benches/plot_rss.py),
//! # with a 2-minute replay window so the retained logs reach their steady size early:
//! target/release/load streams --streams 10000 --rate 200 --seconds 600 \
//!     --server-args "--replay-secs 120" --rss-csv soak.csv
//! # one event to all 10k streams (one user, 10k devices), 5 times a second:
//! target/release/load streams --streams 10000 --one-user --rate 5 --seconds 10
//! # the same, multiplexed over HTTP/2 connections of 100 streams each:
//! target/release/load idle --streams 10000 --h2
//! # the same relay workload over a plain axum WebSocket relay, for comparison:
//! target/release/load ws-relay --count 5000
//! # add --csv FILE to relay or ws-relay to save every sample (for benches/plot.py)
//! ```
//!
//! It starts the server itself (`--server`, default `target/release/pqcall`) on
//! 127.0.0.1, sends traffic only there, and stops by itself.

use anyhow::{Context, bail};
use serde_json::Value;

use pqcall_tools::server::start_server;

mod relay;
mod streams;
mod ws;
use relay::*;
use streams::*;
use ws::*;

/// User and system CPU ticks of a process.
pub(crate) fn proc_ticks(pid: u32) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit(')').next().context("stat")?;
    let f: Vec<&str> = after.split_whitespace().collect();
    Ok((f[11].parse()?, f[12].parse()?))
}

/// (utime + stime) in clock ticks, and resident set size in bytes, of a process.
pub(crate) fn proc_usage(pid: u32) -> anyhow::Result<(u64, u64)> {
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

pub(crate) async fn post(
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
pub(crate) async fn redis_calls() -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let mut con = redis::Client::open(pqcall_tools::server::redis_url())?
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

/// Redis's own CPU so far (user + system, from `INFO cpu`), in µs.
pub(crate) async fn redis_cpu_us() -> anyhow::Result<f64> {
    let mut con = redis::Client::open(pqcall_tools::server::redis_url())?
        .get_multiplexed_async_connection()
        .await?;
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut con).await?;
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    Ok((field("used_cpu_sys") + field("used_cpu_user")) * 1e6)
}

/// `--rss-csv FILE`: seconds since start and server RSS in MiB, one line each.
pub(crate) fn save_rss_curve(curve: &[(f64, u64)]) -> anyhow::Result<()> {
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

/// Prints a latency histogram's percentiles, in µs.
pub(crate) fn print_latency(hist: &hdrhistogram::Histogram<u64>) {
    println!(
        "  p50 {}  p90 {}  p99 {}  max {}  mean {:.1}",
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.9),
        hist.value_at_quantile(0.99),
        hist.max(),
        hist.mean()
    );
}

pub(crate) fn save_csv(label: &str, samples: &[f64]) -> anyhow::Result<()> {
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
        let result = if args.iter().any(|a| a == "--ice") {
            relay_ice(&a, &b, flag("--count", 5000), flag("--in-flight", 1)).await
        } else {
            relay(&a, &b, flag("--count", 5000)).await
        };
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
    // `--tls`: the server serves HTTPS with a certificate of its own (`idle --h2`).
    let extra = if args.iter().any(|a| a == "--tls") {
        format!("{extra} --tls-self-signed")
    } else {
        extra
    };
    let mut server = start_server(&server_path, None, &extra).await?;
    let result = match args.get(1).map(String::as_str) {
        Some("relay") if args.iter().any(|a| a == "--ice") => {
            relay_ice(
                &server,
                &server,
                flag("--count", 5000),
                flag("--in-flight", 1),
            )
            .await
        }
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
            "usage: load relay [--count N] [--csv F] [--cluster] | relay --ice [--count N] [--in-flight M] [--cluster] | ws-relay [--count N] [--csv F] | streams [--streams N] [--rate M] [--seconds D] | idle [--streams N] [--h2 [--tls]] [--server PATH]"
        )),
    };
    server.child.kill().await.ok();
    result
}
