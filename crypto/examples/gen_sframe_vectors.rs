//! Regenerates `crypto/tests/vectors/sframe-v1.json`:
//!
//! ```sh
//! cargo run -p pqcall-crypto --example gen_sframe_vectors > crypto/tests/vectors/sframe-v1.json
//! ```
//!
//! Each entry encrypts one frame with a media key of `handshake-v1.json` under one KID of
//! docs/PROTOCOL.md §7, calling the `sframe` crate directly (not pqcall-crypto's `media`
//! module), so the test that replays the file checks the library's KID and counter
//! handling against a second reading of the spec.

use anyhow::Context as _;
use serde_json::{Value, json};
use sframe::CipherSuite;
use sframe::frame::{MediaFrame, SingleUseCounter};
use sframe::key::EncryptionKey;
use sha3::{Digest, Sha3_256};

/// Deterministic filler bytes: SHA3-256 of a label and a block index, repeated.
fn filler(label: &str, len: usize) -> Vec<u8> {
    (0..len.div_ceil(32))
        .flat_map(|i| Sha3_256::digest(format!("pqcall/sframe-vector/{label}/{i}")))
        .take(len)
        .collect()
}

fn main() -> anyhow::Result<()> {
    let handshakes: Value =
        serde_json::from_str(include_str!("../tests/vectors/handshake-v1.json"))?;
    let opus = filler("opus", 60);
    let one = vec![0xf8];
    let mut data_text = vec![0x01];
    data_text.extend(
        std::iter::repeat_n(b"pqcall data channel message. ".as_slice(), 36)
            .flatten()
            .take(1023),
    );
    let mut data_binary = vec![0x02];
    data_binary.extend(filler("binary", 40));
    // (handshake index, sender, KID, counter, plaintext)
    let entries: [(usize, &str, u64, u64, &[u8]); 10] = [
        (0, "caller", 0, 0, &opus),
        (0, "caller", 0, 7, &one),
        (0, "callee", 2, 8, &opus),
        (0, "caller", 1, 0, &data_text),
        (0, "callee", 3, 255, &data_binary),
        (3, "callee", 2, 256, &opus),
        (3, "caller", 0, 1 << 32, &opus),
        (5, "caller", 1, 256, &data_text),
        (5, "callee", 3, (1 << 32) + 1, &data_text),
        (6, "callee", 2, 65_535, &one),
    ];
    let mut out = vec![];
    for (index, sender, kid, ctr, plaintext) in entries {
        let outputs = &handshakes["cases"][index]["outputs"];
        let field = if sender == "caller" {
            "media_caller"
        } else {
            "media_callee"
        };
        let base_key = hex::decode(outputs[field].as_str().context("media key")?)?;
        let key = EncryptionKey::derive_from(CipherSuite::AesGcm256Sha512, kid, &base_key)?;
        let frame = MediaFrame::try_new(&mut SingleUseCounter::new(ctr), plaintext)?;
        let sframe = frame.encrypt(&key)?;
        out.push(json!({
            "handshake": index,
            "direction": if sender == "caller" { "caller->callee" } else { "callee->caller" },
            "kid": kid,
            "ctr": ctr,
            "base_key": hex::encode(&base_key),
            "metadata": "",
            "plaintext": hex::encode(plaintext),
            "ciphertext": hex::encode(sframe.as_ref()),
        }));
    }
    let doc = json!({
        "version": 1,
        "cipher_suite": 5,
        "description": "pqcall SFrame vectors (docs/PROTOCOL.md §7): AES_256_GCM_SHA512_128, KID 0/1 caller media/data, 2/3 callee media/data, base key the handshake's media key of the sender. Data-channel plaintexts start with their type byte (0x01 text, 0x02 binary). ciphertext is the whole SFrame: header, ciphertext, tag. See README.md beside this file.",
        "entries": out,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
