//! Regenerates `crypto/tests/vectors/handshake-v1.json`:
//!
//! ```sh
//! cargo run -p pqcall-crypto --features hazmat --example gen_vectors > crypto/tests/vectors/handshake-v1.json
//! ```
//!
//! It computes every value with `ml-kem` and `sha3` directly, written out from
//! docs/PROTOCOL.md §6 and not through pqcall-crypto's key schedule, so the test that
//! replays the file checks the library against a second reading of the spec.

use ml_kem::kem::Decapsulate;
use ml_kem::{B32, DecapsulationKey, KeyExport, MlKem768, Seed};
use serde_json::{Value, json};
use sha3::{Digest, Sha3_256};

fn enc_hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha3_256::new();
    for p in parts {
        h.update((p.len() as u32).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// Fixed input bytes for case `i`: SHA3-256 of a label, repeated to the length.
fn fixed<const N: usize>(i: usize, label: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (k, chunk) in out.chunks_mut(32).enumerate() {
        let block = enc_hash(&[
            b"pqcall/vector-input",
            label.as_bytes(),
            &[i as u8, k as u8],
        ]);
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    out
}

struct Inputs {
    name: &'static str,
    call_id: &'static str,
    caller_id: &'static str,
    callee_id: &'static str,
    fp_a: &'static str,
    fp_b: &'static str,
}

fn case(i: usize, inp: &Inputs) -> Value {
    let seed: [u8; 64] = fixed(i, "keygen_seed");
    let m: [u8; 32] = fixed(i, "encaps_m");
    let n_a: [u8; 32] = fixed(i, "n_a");

    let dk = DecapsulationKey::<MlKem768>::from_seed(Seed::from(seed));
    let ek = dk.encapsulation_key().to_bytes();
    let (ct, ss) = dk
        .encapsulation_key()
        .encapsulate_deterministic(&B32::from(m));
    let ss_caller = dk.decapsulate(&ct);
    assert_eq!(ss, ss_caller);

    let commit = enc_hash(&[b"pqcall/v1/commit", &n_a]);
    let th = enc_hash(&[
        b"pqcall/v1/th",
        inp.call_id.as_bytes(),
        inp.caller_id.as_bytes(),
        inp.callee_id.as_bytes(),
        b"ML-KEM-768",
        &ek,
        &commit,
        inp.fp_a.as_bytes(),
        &ct,
        inp.fp_b.as_bytes(),
        &n_a,
    ]);
    let prk = enc_hash(&[b"pqcall/v1/prk", &ss, &th]);
    let k = |label: &str| enc_hash(&[format!("pqcall/v1/{label}").as_bytes(), &prk]);
    let sas = k("sas");
    let sas_u32 = u32::from_be_bytes([sas[0], sas[1], sas[2], sas[3]]);
    let code = sas_u32 % 1_000_000;

    json!({
        "name": inp.name,
        "inputs": {
            "keygen_seed": hex::encode(seed),
            "encaps_m": hex::encode(m),
            "n_a": hex::encode(n_a),
            "call_id": inp.call_id,
            "caller_id": inp.caller_id,
            "callee_id": inp.callee_id,
            "fp_a": inp.fp_a,
            "fp_b": inp.fp_b,
        },
        "outputs": {
            "ek": hex::encode(ek),
            "commit": hex::encode(commit),
            "ct": hex::encode(ct),
            "ss": hex::encode(ss),
            "th": hex::encode(th),
            "prk": hex::encode(prk),
            "tag_caller": hex::encode(k("tag/caller")),
            "tag_callee": hex::encode(k("tag/callee")),
            "media_caller": hex::encode(k("media/caller")),
            "media_callee": hex::encode(k("media/callee")),
            "sas": hex::encode(sas),
            "code": format!("{:03} {:03}", code / 1000, code % 1000),
        }
    })
}

fn main() {
    const FP1: &str = "sha-256 6B:8B:4F:22:AE:19:05:7C:D1:3E:80:F9:61:2A:B4:07:9C:5D:E3:18:44:A0:7F:C2:95:0B:D6:3A:71:E8:12:CF";
    const FP2: &str = "sha-256 0F:A1:9E:53:C7:28:B0:64:DD:12:8A:F5:3C:E9:47:70:1B:86:D4:2E:F0:5A:93:C1:68:07:BE:24:7D:E5:39:A6";
    const FP384: &str = "sha-384 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00";
    const FPS: &str = "sha-256 6B:8B:4F:22:AE:19:05:7C:D1:3E:80:F9:61:2A:B4:07:9C:5D:E3:18:44:A0:7F:C2:95:0B:D6:3A:71:E8:12:CF,sha-384 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00,sha-512 A0:A1:A2:A3:A4:A5:A6:A7:A8:A9:AA:AB:AC:AD:AE:AF:B0:B1:B2:B3:B4:B5:B6:B7:B8:B9:BA:BB:BC:BD:BE:BF:C0:C1:C2:C3:C4:C5:C6:C7:C8:C9:CA:CB:CC:CD:CE:CF:D0:D1:D2:D3:D4:D5:D6:D7:D8:D9:DA:DB:DC:DD:DE:DF";
    let cases = [
        Inputs {
            name: "basic",
            call_id: "3f8a1c0e9b7d4a2f8e6c5b4a39281706",
            caller_id: "alice",
            callee_id: "bob",
            fp_a: FP1,
            fp_b: FP2,
        },
        Inputs {
            name: "no-fingerprint-in-answer",
            call_id: "00000000000000000000000000000001",
            caller_id: "alice",
            callee_id: "bob",
            fp_a: FP1,
            fp_b: "",
        },
        Inputs {
            name: "no-fingerprints",
            call_id: "ffffffffffffffffffffffffffffffff",
            caller_id: "u1",
            callee_id: "u2",
            fp_a: "",
            fp_b: "",
        },
        Inputs {
            name: "utf8-user-ids",
            call_id: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            caller_id: "zoë@example.org",
            callee_id: "владимир",
            fp_a: FP2,
            fp_b: FP1,
        },
        Inputs {
            name: "sha-384-fingerprint",
            call_id: "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e",
            caller_id: "caller-with-a-rather-long-identifier-0123456789",
            callee_id: "c",
            fp_a: FP384,
            fp_b: FP2,
        },
        Inputs {
            name: "swapped-roles",
            call_id: "3f8a1c0e9b7d4a2f8e6c5b4a39281706",
            caller_id: "bob",
            callee_id: "alice",
            fp_a: FP2,
            fp_b: FP1,
        },
        // An SDP listing sha-256, sha-384 and sha-512 of one certificate binds all three,
        // sorted and joined with "," (docs/PROTOCOL.md §6).
        Inputs {
            name: "several-fingerprints",
            call_id: "9c0d7e1f2a3b4c5d6e7f8091a2b3c4d5",
            caller_id: "alice",
            callee_id: "bob",
            fp_a: FPS,
            fp_b: FP2,
        },
    ];
    let doc = json!({
        "version": 1,
        "suite": "ML-KEM-768",
        "description": "pqcall handshake test vectors (docs/PROTOCOL.md §6). Bytes are lower-case hex; strings are UTF-8. See README.md beside this file.",
        "cases": cases.iter().enumerate().map(|(i, c)| case(i, c)).collect::<Vec<_>>(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("serializable")
    );
}
