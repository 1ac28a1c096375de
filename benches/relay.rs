//! Relay through the real server on loopback: POST a 3.4 KB offer, receive it on the
//! callee's SSE stream. One in-process server, a reqwest client, criterion timing.
//!
//! ```sh
//! cargo bench --bench relay
//! ```
//! Percentiles and server CPU per message come from `tools/src/bin/load.rs`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use pqcall::{AppState, Config};
use serde_json::{Value, json};

fn relay(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (base, alice, alice_conn, mut bob_events, offer) = rt.block_on(async {
        let config = Config {
            offers_per_minute: usize::MAX,
            max_ringing: usize::MAX,
            rate_per_sec: 1_000_000,
            rate_burst: 1_000_000,
            ..Config::default()
        };
        let state = AppState::new(config, b"relay-bench-secret-0123456789abcdef");
        let (base, _server) = pqcall::serve_loopback(state.clone(), std::future::pending())
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let open = async |user: &str| {
            let t = state.mint_token(user, 3600).unwrap();
            let tk: Value = http.post(format!("{base}/api/auth/authenticate")).bearer_auth(&t).send().await.unwrap().json().await.unwrap();
            let res = http.get(format!("{base}/api/events?ticket={}", tk["sse_ticket"].as_str().unwrap())).send().await.unwrap();
            let mut ev = Box::pin(res.bytes_stream().eventsource());
            let hello: Value = serde_json::from_str(&ev.next().await.unwrap().unwrap().data).unwrap();
            (t, hello["conn_id"].as_str().unwrap().to_owned(), ev)
        };
        let (alice, alice_conn, _a) = open("alice").await;
        std::mem::forget(_a);
        let (_, _, bob_events) = open("bob").await;
        let (_, kem) = pqcall_crypto::Caller::start().unwrap();
        let offer = json!({"to": "bob", "sdp": "a=x".repeat(3400 / 3), "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}});
        (base, alice, alice_conn, bob_events, offer)
    });
    let http = reqwest::Client::new();
    let mut g = c.benchmark_group("relay");
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("offer_post_to_sse", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let r: Value = http
                        .post(format!("{base}/api/calls/offer"))
                        .bearer_auth(&alice)
                        .header("X-Pqcall-Conn", &alice_conn)
                        .json(&offer)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    while bob_events.next().await.unwrap().unwrap().event != "call.offer" {}
                    total += start.elapsed();
                    // Cancel (not timed) so calls do not pile up.
                    http.post(format!("{base}/api/calls/end"))
                        .bearer_auth(&alice)
                        .header("X-Pqcall-Conn", &alice_conn)
                        .json(&json!({"call_id": r["call_id"]}))
                        .send()
                        .await
                        .unwrap();
                    while bob_events.next().await.unwrap().unwrap().event != "call.ended" {}
                }
                total
            })
        })
    });
    g.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
