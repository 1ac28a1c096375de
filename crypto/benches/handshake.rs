//! Criterion benches of the handshake: the three raw ML-KEM-768 operations, each role's
//! step, and the whole handshake for both sides.
//!
//! ```sh
//! cargo bench -p pqcall-crypto --bench handshake
//! ```
//! Issue target: the whole handshake ≤ 1.10 × (keygen + encaps of a received key +
//! decaps); the `handshake_ratio` example measures that ratio with the two interleaved.

use criterion::{Criterion, criterion_group, criterion_main};
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{DecapsulationKey, EncapsulationKey, Generate, KeyExport, MlKem768};
use pqcall_crypto::{CallContext, Callee, Caller};
use std::hint::black_box;

fn ctx() -> CallContext {
    CallContext::from_sdp(
        "5f0c2b8e9a7d4c1e8f6a3b2d1c0e9f8a",
        "alice",
        "bob",
        include_str!("../tests/fixtures/chromium-offer.sdp"),
        include_str!("../tests/fixtures/chromium-answer.sdp"),
    )
    .expect("fixture SDPs carry one fingerprint each")
}

fn raw(c: &mut Criterion) {
    let mut g = c.benchmark_group("ml-kem-768");
    g.bench_function("keygen", |b| {
        b.iter(|| black_box(DecapsulationKey::<MlKem768>::generate()))
    });
    let dk = DecapsulationKey::<MlKem768>::generate();
    let ek = dk.encapsulation_key().clone();
    // FIPS 203 ML-KEM.Encaps on the bytes of a fresh key, as a callee meets it: decoding
    // `ek` and `H(ek)` (Algorithm 17) happen when the crate parses the key.
    let ek_bytes = ek.to_bytes();
    g.bench_function("encaps_received_key", |b| {
        b.iter(|| {
            let ek = EncapsulationKey::<MlKem768>::new(black_box(&ek_bytes)).unwrap();
            black_box(ek.encapsulate())
        })
    });
    // The same on a parsed key object reused (no decoding, `H(ek)` cached).
    g.bench_function("encaps", |b| b.iter(|| black_box(ek.encapsulate())));
    let (ct, _) = ek.encapsulate();
    g.bench_function("decaps", |b| b.iter(|| black_box(dk.decapsulate(&ct))));
    g.finish();
}

fn steps(c: &mut Criterion) {
    let ctx = ctx();
    let mut g = c.benchmark_group("handshake");
    g.bench_function("caller_start", |b| {
        b.iter(|| black_box(Caller::start().unwrap()))
    });
    let (_, offer) = Caller::start().unwrap();
    g.bench_function("callee_answer", |b| {
        b.iter(|| black_box(Callee::answer(&offer).unwrap()))
    });
    g.bench_function("caller_finish", |b| {
        b.iter_batched(
            || {
                let (caller, offer) = Caller::start().unwrap();
                let (_, answer) = Callee::answer(&offer).unwrap();
                (caller, answer)
            },
            |(caller, answer)| black_box(caller.finish(&answer, &ctx)),
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("callee_confirm", |b| {
        b.iter_batched(
            || {
                let (caller, offer) = Caller::start().unwrap();
                let (callee, answer) = Callee::answer(&offer).unwrap();
                let (_, confirm) = caller.finish(&answer, &ctx);
                (callee, confirm)
            },
            |(callee, confirm)| black_box(callee.confirm(&confirm, &ctx).unwrap()),
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("full_both_sides", |b| {
        b.iter(|| {
            let (caller, offer) = Caller::start().unwrap();
            let (callee, answer) = Callee::answer(&offer).unwrap();
            let (caller, confirm) = caller.finish(&answer, &ctx);
            let (_, reply) = callee.confirm(&confirm, &ctx).unwrap();
            black_box(caller.verify(&reply).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, raw, steps);
criterion_main!(benches);
