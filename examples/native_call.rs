//! Two native WebRTC peers (webrtc-rs 0.21), alice and bob, make a whole call through a
//! pqcall server: offer with the ML-KEM-768 handshake, answer, confirm both ways, trickle
//! ICE, peer connection connected, Opus audio and a data channel message each way, both
//! end-to-end encrypted with SFrame under the handshake's keys (docs/PROTOCOL.md §7), the same
//! safety code on both sides ("e2ee: on" and the frame counts are printed), hang up.
//!
//! ```sh
//! cargo run --release --example native_call                    # starts a server in-process
//! cargo run --release --example native_call -- --url http://127.0.0.1:8080 --secret S
//! cargo run --release --example native_call -- --default-timers  # without the wake-up fix
//! cargo run --release --example native_call -- --webrtc-defaults   # no fix, default ICE timing
//! cargo run --release --example native_call -- --calls 50          # median and p95 of 50 calls
//! cargo run --release --example native_call -- --calls 50 --no-handshake   # dummy kem fields
//! # relay candidates only, through a coturn started with use-auth-secret on 127.0.0.1:3478:
//! cargo run --release --example native_call -- --calls 20 \
//!     --turn-url "turn:127.0.0.1:3478?transport=udp" --turn-secret S --relay
//! ```
//!
//! webrtc-rs 0.21's peer-connection driver sleeps until its next timer even when work is
//! queued (a remote candidate, SCTP INIT, DCEP OPEN), so setup waits for ICE check ticks.
//! `WakeEvery` (in `common/native.rs`) wraps the runtime so the driver's sleeps are capped at a few
//! milliseconds: queued work then leaves within that bound. See BENCHMARKS.md.

use std::time::Duration;

use anyhow::bail;
use pqcall::{AppState, Config};

#[path = "common/native.rs"]
mod native;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| native::arg(&args, name);
    let defaults = args.iter().any(|a| a == "--webrtc-defaults");
    let wake = !defaults && !args.iter().any(|a| a == "--default-timers");
    if defaults {
        native::use_webrtc_defaults();
    }
    let handshake = !args.iter().any(|a| a == "--no-handshake");
    if args.iter().any(|a| a == "--relay") {
        native::use_relay_only();
    }
    let calls: usize = arg("--calls").and_then(|n| n.parse().ok()).unwrap_or(1);
    // The server: given, or started here.
    let (base, state) = match (arg("--url"), arg("--secret")) {
        (Some(url), Some(secret)) => (url, AppState::new(Config::default(), secret.as_bytes())),
        (Some(_), None) => bail!("--url needs --secret (the server's --jwt-secret)"),
        _ => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            let config = Config {
                turn_urls: arg("--turn-url").into_iter().collect(),
                turn_secret: arg("--turn-secret").map(Into::into),
                offers_per_minute: 100_000,
                rate_per_sec: 100_000,
                rate_burst: 100_000,
                ..Config::default()
            };
            let state = AppState::new(config, b"native-call-example-secret-0123456789");
            tokio::spawn(pqcall::run(listener, state.clone(), std::future::pending()));
            (base, state)
        }
    };
    let token = |u: &str| state.mint_token(u, 600).map_err(|e| anyhow::anyhow!("{e}"));
    println!(
        "server {base}; driver wake-ups {}",
        if wake { "every 2 ms" } else { "default" }
    );
    if calls > 1 {
        native::set_quiet();
    }
    let mut open = vec![];
    let mut connected = vec![];
    let mut spent = vec![];
    for _ in 0..calls {
        let t = native::call_once(
            &base,
            token("alice")?,
            token("bob")?,
            native::runtime(wake)?,
            handshake,
        )
        .await?;
        if let Some((a, b)) = &t.codes {
            if a != b {
                bail!("the codes differ: {a} / {b}");
            }
        }
        if calls == 1 {
            println!(
                "both sides show {}",
                t.codes.as_ref().map_or("-", |c| c.0.as_str())
            );
            println!(
                "offer -> connected {:?}, offer -> data channel open on both sides {:?}",
                t.connected, t.channel_open
            );
        }
        open.push(t.channel_open);
        connected.push(t.connected);
        spent.push(t.signaling_and_handshake);
    }
    if calls > 1 {
        let pct = |v: &mut Vec<Duration>, q: f64| {
            v.sort();
            v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
        };
        println!(
            "{calls} calls: offer -> data channel open median {:?}, p95 {:?}; offer -> connected median {:?}, p95 {:?}",
            pct(&mut open, 0.5),
            pct(&mut open, 0.95),
            pct(&mut connected, 0.5),
            pct(&mut connected, 0.95)
        );
        let median_open = pct(&mut open, 0.5);
        let median_spent = pct(&mut spent, 0.5);
        println!(
            "signaling + handshake on the critical path: median {:?} ({:.1}% of the median setup)",
            median_spent,
            100.0 * median_spent.as_secs_f64() / median_open.as_secs_f64()
        );
        let slow = open
            .iter()
            .filter(|d| **d > Duration::from_millis(60))
            .count();
        println!("calls slower than 60 ms: {slow} of {calls}");
    }
    Ok(())
}
