//! SFrame media and data-channel encryption (docs/PROTOCOL.md §7): the crate against RFC 9605's
//! own vectors, the library against `vectors/sframe-v1.json`, tampering, replay, KIDs,
//! and properties over any frame.

use std::collections::HashSet;

use pqcall_crypto::{CallKeys, DataMessage, DropReason, Error, Role, hazmat};
use proptest::prelude::*;
use serde_json::Value;
use sframe::CipherSuite;
use sframe::frame::{MediaFrame, SingleUseCounter};
use sframe::key::{DecryptionKey, EncryptionKey};

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn keys() -> (CallKeys, CallKeys) {
    let doc: Value = serde_json::from_str(include_str!("vectors/handshake-v1.json")).unwrap();
    let o = &doc["cases"][0]["outputs"];
    let k = |f: &str| -> [u8; 32] { unhex(&o[f]).try_into().unwrap() };
    let a = hazmat::call_keys(k("media_caller"), k("media_callee"));
    let b = hazmat::call_keys(k("media_caller"), k("media_callee"));
    (a, b)
}

/// A future `sframe` release must not change the format: RFC 9605 Appendix C.5, suite 0x0005.
#[test]
fn sframe_crate_reproduces_rfc_9605_suite_5() {
    let doc: Value = serde_json::from_str(include_str!("vectors/rfc9605-suite5.json")).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        assert_eq!(c["cipher_suite"], 5);
        let (kid, ctr) = (c["kid"].as_u64().unwrap(), c["ctr"].as_u64().unwrap());
        let base = unhex(&c["base_key"]);
        let key = EncryptionKey::derive_from(CipherSuite::AesGcm256Sha512, kid, &base).unwrap();
        let frame = MediaFrame::try_with_meta_data(
            &mut SingleUseCounter::new(ctr),
            unhex(&c["pt"]),
            unhex(&c["metadata"]),
        )
        .unwrap();
        let sframe = frame.encrypt(&key).unwrap();
        // The crate's buffer is metadata || SFrame; the RFC's `ct` is the SFrame.
        let metadata_len = unhex(&c["metadata"]).len();
        assert_eq!(
            hex::encode(&sframe.as_ref()[metadata_len..]),
            c["ct"].as_str().unwrap()
        );
        let dec = DecryptionKey::derive_from(CipherSuite::AesGcm256Sha512, kid, &base).unwrap();
        assert_eq!(sframe.decrypt(&dec).unwrap().payload(), unhex(&c["pt"]));
    }
}

#[test]
fn library_reproduces_every_sframe_vector() {
    let handshakes: Value =
        serde_json::from_str(include_str!("vectors/handshake-v1.json")).unwrap();
    let doc: Value = serde_json::from_str(include_str!("vectors/sframe-v1.json")).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert!(entries.len() >= 8);
    let mut kids = HashSet::new();
    for (n, e) in entries.iter().enumerate() {
        let o = &handshakes["cases"][e["handshake"].as_u64().unwrap() as usize]["outputs"];
        let k = |f: &str| -> [u8; 32] { unhex(&o[f]).try_into().unwrap() };
        let (sender_keys, receiver_keys) = (
            hazmat::call_keys(k("media_caller"), k("media_callee")),
            hazmat::call_keys(k("media_caller"), k("media_callee")),
        );
        let (role, field) = match e["direction"].as_str().unwrap() {
            "caller->callee" => (Role::Caller, "media_caller"),
            "callee->caller" => (Role::Callee, "media_callee"),
            d => panic!("direction {d}"),
        };
        assert_eq!(
            e["base_key"], o[field],
            "entry {n}: base key is the handshake's"
        );
        assert_eq!(e["metadata"], "");
        let (kid, ctr) = (e["kid"].as_u64().unwrap(), e["ctr"].as_u64().unwrap());
        kids.insert(kid);
        hazmat::set_next_counter(&sender_keys, kid, ctr);
        let plain = unhex(&e["plaintext"]);
        let expected = unhex(&e["ciphertext"]);
        if kid % 2 == 0 {
            let sender = sender_keys.media_sender(role);
            assert_eq!(sender.kid(), kid, "entry {n}");
            assert_eq!(sender.encrypt(&plain).unwrap(), expected, "entry {n}");
            let mut rx = receiver_keys.media_receiver(role.peer());
            assert_eq!(rx.decrypt(&expected).unwrap(), plain, "entry {n}");
        } else {
            let sender = sender_keys.data_sender(role);
            let wire = match plain[0] {
                0x01 => sender.text(std::str::from_utf8(&plain[1..]).unwrap()),
                _ => sender.binary(&plain[1..]),
            };
            assert_eq!(wire.unwrap(), expected, "entry {n}");
            let got = receiver_keys.data_receiver(role.peer()).decrypt(&expected);
            let want = match plain[0] {
                0x01 => DataMessage::Text(String::from_utf8(plain[1..].to_vec()).unwrap()),
                _ => DataMessage::Binary(plain[1..].to_vec()),
            };
            assert_eq!(got.unwrap(), want, "entry {n}");
        }
    }
    assert_eq!(kids, HashSet::from([0, 1, 2, 3]), "every KID covered");
}

fn dropped(r: Result<Vec<u8>, Error>) -> DropReason {
    match r {
        Err(Error::FrameDropped(why)) => why,
        other => panic!("expected a drop, got {other:?}"),
    }
}

#[test]
fn tampering_replay_and_wrong_kid_are_dropped_and_counted() {
    let (alice, bob) = keys();
    let tx = alice.media_sender(Role::Caller);
    let mut rx = bob.media_receiver(Role::Callee);
    let frame = tx.encrypt(&[7u8; 60]).unwrap();
    assert_eq!(rx.decrypt(&frame).unwrap(), vec![7u8; 60]);

    // A flipped ciphertext bit.
    let mut flipped = tx.encrypt(&[8u8; 60]).unwrap();
    flipped[10] ^= 1;
    assert_eq!(dropped(rx.decrypt(&flipped)), DropReason::Authentication);
    // The same frame again.
    assert_eq!(dropped(rx.decrypt(&frame)), DropReason::Replayed);
    // The other direction's media KID, and the caller's own data KID.
    let reflected = bob.media_sender(Role::Callee).encrypt(&[9u8; 60]).unwrap();
    assert_eq!(dropped(rx.decrypt(&reflected)), DropReason::WrongKeyId);
    let data = alice.data_sender(Role::Caller).text("hi").unwrap();
    assert_eq!(dropped(rx.decrypt(&data)), DropReason::WrongKeyId);
    // Not an SFrame at all.
    assert_eq!(dropped(rx.decrypt(&[0xff])), DropReason::Malformed);
    // A wrong key: a receiver of another call.
    let (other, _) = {
        let doc: Value = serde_json::from_str(include_str!("vectors/handshake-v1.json")).unwrap();
        let o = &doc["cases"][1]["outputs"];
        let k = |f: &str| -> [u8; 32] { unhex(&o[f]).try_into().unwrap() };
        (hazmat::call_keys(k("media_caller"), k("media_callee")), ())
    };
    let mut wrong = other.media_receiver(Role::Callee);
    assert_eq!(
        dropped(wrong.decrypt(&tx.encrypt(&[1u8; 60]).unwrap())),
        DropReason::Authentication
    );
    assert_eq!((wrong.received(), wrong.dropped()), (0, 1));
    // The flipped frame did not move the window: the authentic original still decrypts.
    let mut rx2 = bob.media_receiver(Role::Callee);
    flipped[10] ^= 1;
    assert_eq!(rx2.decrypt(&flipped).unwrap(), vec![8u8; 60]);

    assert_eq!(rx.received(), 1);
    assert_eq!(rx.dropped(), 5);
}

#[test]
fn zero_length_frames_pass_untouched_and_are_not_counted() {
    let (alice, bob) = keys();
    let tx = alice.media_sender(Role::Caller);
    let mut rx = bob.media_receiver(Role::Callee);
    assert!(tx.encrypt(&[]).unwrap().is_empty());
    assert_eq!(tx.sent(), 0);
    assert!(rx.decrypt(&[]).unwrap().is_empty());
    assert_eq!((rx.received(), rx.dropped()), (0, 0));
}

#[test]
fn out_of_order_within_the_window_is_accepted_older_is_dropped() {
    let (alice, bob) = keys();
    let tx = bob.media_sender(Role::Callee);
    let mut rx = alice.media_receiver(Role::Caller);
    let frames: Vec<Vec<u8>> = (0..400u32)
        .map(|i| tx.encrypt(&i.to_be_bytes()).unwrap())
        .collect();
    assert_eq!(rx.decrypt(&frames[399]).unwrap(), 399u32.to_be_bytes());
    assert_eq!(rx.decrypt(&frames[300]).unwrap(), 300u32.to_be_bytes());
    assert_eq!(dropped(rx.decrypt(&frames[10])), DropReason::Replayed);
}

#[test]
fn a_recreated_sender_continues_the_counter() {
    let (alice, bob) = keys();
    let first = alice.media_sender(Role::Caller).encrypt(b"one").unwrap();
    // A transform recreated mid-call, from a clone of the keys.
    let again = alice.clone().media_sender(Role::Caller);
    assert_eq!(again.sent(), 1);
    let second = again.encrypt(b"two").unwrap();
    let mut rx = bob.media_receiver(Role::Callee);
    assert_eq!(rx.decrypt(&second).unwrap(), b"two");
    assert_eq!(rx.decrypt(&first).unwrap(), b"one");
}

#[test]
fn data_messages_keep_their_type() {
    let (alice, bob) = keys();
    let tx = bob.data_sender(Role::Callee);
    let mut rx = alice.data_receiver(Role::Caller);
    assert_eq!(
        rx.decrypt(&tx.text("héllo").unwrap()).unwrap(),
        DataMessage::Text("héllo".into())
    );
    assert_eq!(
        rx.decrypt(&tx.binary(&[0, 1, 2]).unwrap()).unwrap(),
        DataMessage::Binary(vec![0, 1, 2])
    );
    // Empty binary and text messages are still one type byte long, so they are sent.
    assert_eq!(
        rx.decrypt(&tx.binary(&[]).unwrap()).unwrap(),
        DataMessage::Binary(vec![])
    );
    // A media frame on the data path is the wrong KID.
    let media = bob.media_sender(Role::Callee).encrypt(b"x").unwrap();
    assert!(matches!(
        rx.decrypt(&media),
        Err(Error::FrameDropped(DropReason::WrongKeyId))
    ));
    assert_eq!((rx.received(), rx.dropped()), (3, 1));
}

#[test]
fn debug_shows_no_key() {
    let (alice, _) = keys();
    let text = format!(
        "{:?} {:?} {:?}",
        alice.media_sender(Role::Caller),
        alice.media_receiver(Role::Caller),
        alice
    );
    let key = hex::encode(alice.media_caller_to_callee.expose());
    assert!(!text.contains(&key[..16]), "{text}");
    assert!(text.contains("kid"));
}

proptest! {
    #[test]
    fn round_trips_any_frame(frame in prop::collection::vec(any::<u8>(), 1..2048), caller in any::<bool>()) {
        let (alice, bob) = keys();
        let role = if caller { Role::Caller } else { Role::Callee };
        let wire = alice.media_sender(role).encrypt(&frame).unwrap();
        prop_assert_eq!(wire.len() > frame.len() + 16, true);
        prop_assert_eq!(bob.media_receiver(role.peer()).decrypt(&wire).unwrap(), frame);
    }

    /// However many senders a call makes, from however many clones, no two frames of one
    /// sender share a (KID, counter).
    #[test]
    fn no_two_frames_share_a_kid_and_counter(plan in prop::collection::vec((0u8..4, 1usize..5), 1..20)) {
        let (alice, _) = keys();
        let mut seen = HashSet::new();
        for (which, n) in plan {
            let keys = alice.clone();
            for _ in 0..n {
                let wire = match which {
                    0 => keys.media_sender(Role::Caller).encrypt(b"m"),
                    1 => keys.data_sender(Role::Caller).text("d"),
                    2 => keys.media_sender(Role::Callee).encrypt(b"m"),
                    _ => keys.data_sender(Role::Callee).binary(b"d"),
                }.unwrap();
                let header = sframe::frame::EncryptedFrameView::try_new(&wire).unwrap();
                prop_assert!(seen.insert((header.header().key_id(), header.header().counter())));
            }
        }
    }
}
