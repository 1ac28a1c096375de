//! Call setup between two webrtc-rs peers through a pqcall server on loopback: from the
//! offer's creation to the data channel open on both sides, with and without the
//! ML-KEM-768 handshake (without it, dummy `kem` fields of the right length are sent and
//! no confirms are exchanged). The driver wake-up fix of `examples/common/native.rs` is on.
//!
//! ```sh
//! cargo bench --bench call_setup
//! ```

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pqcall::{AppState, Config};

#[path = "../examples/common/native.rs"]
mod native;

fn setup(c: &mut Criterion) {
    native::set_quiet();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (base, state) = rt.block_on(async {
        let config = Config {
            offers_per_minute: 1_000_000,
            rate_per_sec: 1_000_000,
            rate_burst: 1_000_000,
            ..Config::default()
        };
        let state = AppState::new(config, b"call-setup-bench-secret-0123456789ab");
        let (base, _server) = pqcall::serve_loopback(state.clone(), std::future::pending())
            .await
            .unwrap();
        (base, state)
    });
    let mut g = c.benchmark_group("call_setup");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    for (name, handshake) in [("with_handshake", true), ("without_handshake", false)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let t = native::call_once(
                            &base,
                            state.mint_token("alice", 600).unwrap(),
                            state.mint_token("bob", 600).unwrap(),
                            native::runtime(true).unwrap(),
                            handshake,
                        )
                        .await
                        .unwrap();
                        total += t.channel_open;
                    }
                    total
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, setup);
criterion_main!(benches);
