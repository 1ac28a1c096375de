//! Fan-out: one event published to a user with N open streams (N devices), timed until
//! every stream has parsed it. In-process server on loopback.
//!
//! ```sh
//! cargo bench --bench fanout
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use pqcall::{AppState, Config};
use serde_json::{Value, json};
use tokio::sync::Notify;

fn fanout(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("fanout");
    g.measurement_time(Duration::from_secs(6));
    for n in [10usize, 100, 1000] {
        let (state, seen, done, target) = rt.block_on(async {
            let config = Config {
                max_streams_per_user: n + 1,
                rate_per_sec: 1_000_000,
                rate_burst: 1_000_000,
                ..Config::default()
            };
            let state = AppState::new(config, b"fanout-bench-secret-0123456789abcdef");
            let (base, _server) = pqcall::serve_loopback(state.clone(), std::future::pending())
                .await
                .unwrap();
            let token = state.mint_token("fan", 3600).unwrap();
            let seen = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(Notify::new());
            let target = Arc::new(AtomicUsize::new(usize::MAX));
            let http = reqwest::Client::new();
            for _ in 0..n {
                let tk: Value = http
                    .post(format!("{base}/api/auth/authenticate"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let res = http
                    .get(format!(
                        "{base}/api/events?ticket={}",
                        tk["sse_ticket"].as_str().unwrap()
                    ))
                    .send()
                    .await
                    .unwrap();
                let mut ev = Box::pin(res.bytes_stream().eventsource());
                assert_eq!(ev.next().await.unwrap().unwrap().event, "hello");
                let (seen, done, target) = (seen.clone(), done.clone(), target.clone());
                tokio::spawn(async move {
                    while let Some(Ok(_)) = ev.next().await {
                        if seen.fetch_add(1, Ordering::AcqRel) + 1 == target.load(Ordering::Acquire)
                        {
                            done.notify_one();
                        }
                    }
                });
            }
            (state, seen, done, target)
        });
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start_count = seen.load(Ordering::Acquire);
                        target.store(start_count + n, Ordering::Release);
                        let t = Instant::now();
                        pqcall::publish_app_event(
                            &state,
                            vec!["fan".into()],
                            "app.tick",
                            json!({"x": 1}),
                        )
                        .await
                        .unwrap();
                        if seen.load(Ordering::Acquire) < start_count + n {
                            done.notified().await;
                        }
                        total += t.elapsed();
                    }
                    total
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
