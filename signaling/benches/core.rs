//! The core's cost per routed event and per replay.
//!
//! ```sh
//! cargo bench -p pqcall-signaling --bench core
//! ```
//! Issue target: under 2 µs per routed offer.

use criterion::{Criterion, criterion_group, criterion_main};
use pqcall_signaling::api::{IceCandidate, IceRequest, OfferKemBody, OfferRequest};
use pqcall_signaling::{Audience, Core, CoreConfig, LogConfig, MemoryLog, Valid};
use std::hint::black_box;

const T0: u64 = 1_700_000_000_000;

fn offer() -> OfferRequest {
    let (_, kem) = pqcall_crypto::Caller::start().unwrap();
    OfferRequest {
        to: "bob".into(),
        // A 3.4 KB SDP, the size of a browser's audio + data channel offer.
        sdp: "a=x".repeat(3400 / 3),
        kem: OfferKemBody {
            suite: "ML-KEM-768".into(),
            ek: kem.ek_b64(),
            commit: kem.commit_b64(),
        },
    }
}

fn routed(c: &mut Criterion) {
    let cfg = CoreConfig {
        offers_per_minute: usize::MAX,
        max_ringing_per_caller: usize::MAX,
        ..CoreConfig::default()
    };
    let req = Valid::new(offer()).unwrap();
    // A warm core: chunks of 5000 offers into one core (calls accumulate as they
    // would while ringing); building and dropping the core is not timed.
    c.bench_function("core/offer_routed", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(5000);
                left -= n;
                let mut core = Core::new(cfg.clone());
                let (a, _) = core.connect(T0, "alice", None, true);
                core.connect(T0, "bob", None, true);
                core.connect(T0, "bob", None, true);
                let start = std::time::Instant::now();
                for _ in 0..n {
                    black_box(core.offer(T0, "alice", &a.conn_id, &req).unwrap());
                }
                total += start.elapsed();
                drop(core);
            }
            total
        })
    });
    // ICE relay in an answered call: the steady-state event.
    let mut core = Core::new(cfg.clone());
    let (a, _) = core.connect(T0, "alice", None, true);
    let (b1, _) = core.connect(T0, "bob", None, true);
    let (res, _) = core.offer(T0, "alice", &a.conn_id, &req).unwrap();
    let ans = Valid::new(pqcall_signaling::api::AnswerRequest {
        call_id: res.call_id.clone(),
        sdp: "v=0".into(),
        kem: pqcall_signaling::api::AnswerKemBody {
            ct: pqcall_crypto::wire::encode(&[0; 1088]),
        },
    })
    .unwrap();
    core.answer(T0, "bob", &b1.conn_id, &ans).unwrap();
    let ice = Valid::new(IceRequest {
        call_id: res.call_id,
        candidates: vec![IceCandidate {
            candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        }]
        .into(),
        done: None,
    })
    .unwrap();
    c.bench_function("core/ice_routed", |b| {
        b.iter(|| black_box(core.ice(T0, "alice", &a.conn_id, &ice).unwrap()))
    });
}

fn replay(c: &mut Criterion) {
    let log = MemoryLog::new(LogConfig::default(), 1);
    log.newest("bob"); // both have an open stream
    log.newest("carol");
    let mut ids = vec![];
    for i in 0..1000u64 {
        let e = log.append(
            "bob",
            Audience::All,
            "app.n",
            format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(200)),
            T0,
        );
        ids.push(e.expect("bob has a log").id.to_string());
    }
    c.bench_function("log/append", |b| {
        b.iter(|| log.append("carol", Audience::All, "app.n", "{}", T0))
    });
    c.bench_function("log/replay_100_of_1000", |b| {
        b.iter(|| black_box(log.replay("bob", &ids[899], "c", T0)))
    });
    c.bench_function("log/replay_empty_suffix", |b| {
        b.iter(|| black_box(log.replay("bob", &ids[999], "c", T0)))
    });
}

criterion_group!(benches, routed, replay);
criterion_main!(benches, extra);

fn parts(c: &mut Criterion) {
    let req = offer();
    c.bench_function("parts/validate_offer", |b| {
        b.iter(|| black_box(&req).validate().unwrap())
    });
    c.bench_function("parts/clone_offer", |b| {
        b.iter(|| black_box(black_box(&req).clone()))
    });
}

criterion_group!(extra, parts);
