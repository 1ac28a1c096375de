//! Criterion benches of SFrame media encryption (docs/PROTOCOL.md §7): one 20 ms Opus frame
//! (60 bytes) encrypted and decrypted, a 1 KB data message, and a receiver's setup.
//!
//! ```sh
//! cargo bench -p pqcall-crypto --bench media
//! ```
//! Issue target: ≤ 5 µs per audio frame in Rust.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pqcall_crypto::{CallKeys, Role, hazmat};
use std::hint::black_box;

fn keys() -> CallKeys {
    hazmat::call_keys([7; 32], [9; 32])
}

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("sframe");
    let keys = keys();
    let opus = [0x5a_u8; 60];
    g.throughput(Throughput::Elements(1));
    let tx = keys.media_sender(Role::Caller);
    g.bench_function("encrypt_opus_60B", |b| {
        b.iter(|| black_box(tx.encrypt(black_box(&opus)).unwrap()))
    });
    let mut rx = keys.media_receiver(Role::Callee);
    g.bench_function("decrypt_opus_60B", |b| {
        b.iter_batched(
            || tx.encrypt(&opus).unwrap(),
            |frame| black_box(rx.decrypt(&frame).unwrap()),
            BatchSize::SmallInput,
        )
    });
    let text = "x".repeat(1023);
    let data_tx = keys.data_sender(Role::Callee);
    let mut data_rx = keys.data_receiver(Role::Caller);
    g.bench_function("data_message_1KB_round_trip", |b| {
        b.iter(|| black_box(data_rx.decrypt(&data_tx.text(&text).unwrap()).unwrap()))
    });
    g.bench_function("receiver_setup", |b| {
        b.iter(|| black_box(keys.media_receiver(Role::Callee)))
    });
    g.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
