//! The issue's handshake target as one number: the whole handshake (both sides) against
//! the three raw ML-KEM-768 operations, measured interleaved so that the machine's speed
//! drifting between two criterion benches does not decide the ratio.
//!
//! ```sh
//! cargo run --release -p pqcall-crypto --example handshake_ratio
//! ```
//! The raw operations are FIPS 203's, on encoded keys as a handshake meets them:
//! `ML-KEM.KeyGen` (which outputs `ek` as bytes), `ML-KEM.Encaps(ek)` on the bytes of a
//! key it has not seen before (decoding `ek` and its hash `H(ek)`, Algorithm 17, are part
//! of it; the `ml-kem` crate does them, with the §7.2 modulus check, when it parses the
//! key), and `ML-KEM.Decaps`. For comparison the example also times `encaps` on a key
//! object parsed once and reused, which skips decoding and `H(ek)`: a handshake can never
//! do that, since every call has a fresh `ek`.
//!
//! Each round times a batch of each kind back to back (rotating which goes first) and takes
//! the ratios; it prints the medians and the spread over the rounds. Target: ≤ 1.10.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{DecapsulationKey, EncapsulationKey, Generate, KeyExport, MlKem768};
use pqcall_crypto::{CallContext, Callee, Caller};

/// Rounds unless the first argument gives another number (a few suffice under
/// `valgrind --tool=callgrind`, which counts instructions per function instead).
const ROUNDS: usize = 41;
const BATCH: u32 = 100;

/// KeyGen, Encaps and Decaps on encoded keys (the baseline of the target).
#[inline(never)]
fn raw() -> anyhow::Result<()> {
    let dk = DecapsulationKey::<MlKem768>::generate();
    let ek_bytes = black_box(dk.encapsulation_key().to_bytes());
    let ek =
        EncapsulationKey::<MlKem768>::new(&ek_bytes).map_err(|_| anyhow::anyhow!("invalid ek"))?;
    let (ct, _) = black_box(ek.encapsulate());
    black_box(dk.decapsulate(&ct));
    Ok(())
}

/// The same with `encaps` on the key object that key generation made (no decoding, no
/// `H(ek)`).
#[inline(never)]
fn raw_reused_key() -> anyhow::Result<()> {
    let dk = DecapsulationKey::<MlKem768>::generate();
    let (ct, _) = black_box(dk.encapsulation_key().encapsulate());
    black_box(dk.decapsulate(&ct));
    Ok(())
}

#[inline(never)]
fn full(ctx: &CallContext) -> anyhow::Result<()> {
    let (caller, offer) = Caller::start()?;
    let (callee, answer) = Callee::answer(&offer)?;
    let (caller, confirm) = caller.finish(&answer, ctx);
    let (_, reply) = callee.confirm(&confirm, ctx)?;
    black_box(caller.verify(&reply)?);
    Ok(())
}

fn batch(f: &dyn Fn() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let t = Instant::now();
    for _ in 0..BATCH {
        f()?;
    }
    Ok(t.elapsed() / BATCH)
}

/// The median of `xs` (sorted in place).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let ctx = CallContext::from_sdp(
        "5f0c2b8e9a7d4c1e8f6a3b2d1c0e9f8a",
        "alice",
        "bob",
        include_str!("../tests/fixtures/chromium-offer.sdp"),
        include_str!("../tests/fixtures/chromium-answer.sdp"),
    )?;
    let full_batch = || full(&ctx);
    let kinds: [&dyn Fn() -> anyhow::Result<()>; 3] = [&raw, &raw_reused_key, &full_batch];
    for kind in kinds {
        batch(kind)?; // warm-up
    }
    let rounds = match std::env::args().nth(1) {
        Some(n) => n.parse::<usize>()?.max(1),
        None => ROUNDS,
    };
    let (mut ratio, mut ratio_reused) = (Vec::new(), Vec::new());
    let mut times = [const { Vec::new() }; 3];
    for round in 0..rounds {
        let mut t = [Duration::ZERO; 3];
        for i in 0..3 {
            let k = (round + i) % 3;
            t[k] = batch(kinds[k])?;
        }
        let secs = t.map(|d| d.as_secs_f64());
        ratio.push(secs[2] / secs[0]);
        ratio_reused.push(secs[2] / secs[1]);
        for (all, s) in times.iter_mut().zip(secs) {
            all.push(s * 1e6);
        }
    }
    let [raw_us, reused_us, full_us] = times.map(|mut v| median(&mut v));
    let met = ratio.iter().filter(|r| **r <= 1.10).count();
    println!(
        "whole handshake {full_us:.1} µs / raw keygen+encaps+decaps {raw_us:.1} µs = {:.3}x \
         (median of {rounds} interleaved rounds of {BATCH}; target <= 1.10x)",
        median(&mut ratio),
    );
    println!(
        "rounds: min {:.3}x, max {:.3}x; {met} of {rounds} at or under the target",
        ratio[0],
        ratio[rounds - 1]
    );
    println!(
        "for comparison, encaps on a reused key object: {reused_us:.1} µs, ratio {:.3}x",
        median(&mut ratio_reused),
    );
    Ok(())
}
