//! Replays `vectors/handshake-v1.json` through the public API (seeded via `hazmat`)
//! and checks every intermediate and final value.

use pqcall_crypto::{CallContext, CalleeConfirm, hazmat};
use serde_json::Value;

fn hex32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn b64_hex(s: String) -> String {
    use base64::Engine as _;
    hex::encode(base64::engine::general_purpose::STANDARD.decode(s).unwrap())
}

#[test]
fn library_reproduces_every_vector() {
    let doc: Value = serde_json::from_str(include_str!("vectors/handshake-v1.json"))
        .expect("vector file parses");
    assert_eq!(doc["version"], 1);
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 5, "at least five cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let i = &case["inputs"];
        let o = &case["outputs"];
        let seed: [u8; 64] = hex::decode(i["keygen_seed"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let ctx = CallContext {
            call_id: i["call_id"].as_str().unwrap().into(),
            caller_id: i["caller_id"].as_str().unwrap().into(),
            callee_id: i["callee_id"].as_str().unwrap().into(),
            offer_fingerprint: i["fp_a"].as_str().unwrap().into(),
            answer_fingerprint: i["fp_b"].as_str().unwrap().into(),
        };
        let n_a = hex32(&i["n_a"]);

        let (caller, offer) = hazmat::caller_start_seeded(&seed, n_a);
        assert_eq!(hex::encode(offer.ek()), o["ek"], "{name}: ek");
        assert_eq!(hex::encode(offer.commit()), o["commit"], "{name}: commit");

        let (callee, answer) =
            hazmat::callee_answer_seeded(&offer, &hex32(&i["encaps_m"])).unwrap();
        assert_eq!(hex::encode(answer.ct()), o["ct"], "{name}: ct");
        let ss = hazmat::callee_shared_secret(&callee);
        assert_eq!(hex::encode(ss), o["ss"], "{name}: ss");
        let (th, prk) = hazmat::transcript_and_prk(&ss, &ctx, &offer, &answer, &n_a);
        assert_eq!(hex::encode(th), o["th"], "{name}: TH");
        assert_eq!(hex::encode(prk), o["prk"], "{name}: PRK");

        let (caller, confirm) = caller.finish(&answer, &ctx);
        assert_eq!(b64_hex(confirm.nonce_b64()), i["n_a"], "{name}: nonce");
        assert_eq!(
            b64_hex(confirm.tag_b64()),
            o["tag_caller"],
            "{name}: tag_caller"
        );
        let (callee_keys, reply) = callee.confirm(&confirm, &ctx).unwrap();
        assert_eq!(
            b64_hex(reply.tag_b64()),
            o["tag_callee"],
            "{name}: tag_callee"
        );
        let caller_keys = caller
            .verify(&CalleeConfirm::from_wire(&reply.tag_b64()).unwrap())
            .unwrap();

        for keys in [&caller_keys, &callee_keys] {
            assert_eq!(
                hex::encode(keys.media_caller_to_callee.expose()),
                o["media_caller"],
                "{name}"
            );
            assert_eq!(
                hex::encode(keys.media_callee_to_caller.expose()),
                o["media_callee"],
                "{name}"
            );
            assert_eq!(keys.safety_code.to_string(), o["code"], "{name}: code");
        }
        let sas = hex::decode(o["sas"].as_str().unwrap()).unwrap();
        let n = u32::from_be_bytes([sas[0], sas[1], sas[2], sas[3]]) % 1_000_000;
        assert_eq!(caller_keys.safety_code.value(), n, "{name}: code from sas");
    }
}
