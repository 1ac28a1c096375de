//! Round trips, tampering at every field (with the step that catches it), a relay in
//! the middle, the runtime wrapper, and secret hygiene.

use pqcall_crypto::wire::encode;
use pqcall_crypto::{
    AnswerKem, CallContext, CallKeys, Callee, CalleeConfirm, Caller, CallerConfirm, Error,
    Handshake, OfferKem, Party, hazmat,
};

fn ctx() -> CallContext {
    CallContext::from_sdp(
        "5f0c2b8e9a7d4c1e8f6a3b2d1c0e9f8a",
        "alice",
        "bob",
        "v=0\r\na=fingerprint:sha-256 AA:BB:CC\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:SHA-256 dd:ee:ff\r\n",
    )
    .unwrap()
}

fn seeded(i: u8) -> ([u8; 64], [u8; 32], [u8; 32]) {
    ([i; 64], [i.wrapping_add(1); 32], [i.wrapping_add(2); 32])
}

#[test]
fn round_trip_with_system_randomness() {
    let ctx = ctx();
    let (caller, offer) = Caller::start().unwrap();
    let (callee, answer) = Callee::answer(&offer).unwrap();
    let (caller, confirm) = caller.finish(&answer, &ctx);
    let (bob, reply) = callee.confirm(&confirm, &ctx).unwrap();
    let alice = caller.verify(&reply).unwrap();
    assert_eq!(alice, bob);
    assert_ne!(alice.media_caller_to_callee, alice.media_callee_to_caller);
    let code = alice.safety_code.to_string();
    assert_eq!(code.len(), 7);
    assert_eq!(&code[3..4], " ");
    assert!(
        code.chars()
            .filter(|c| *c != ' ')
            .all(|c| c.is_ascii_digit())
    );
}

#[test]
fn two_runs_give_different_keys() {
    let ctx = ctx();
    let run = || {
        let (caller, offer) = Caller::start().unwrap();
        let (callee, answer) = Callee::answer(&offer).unwrap();
        let (caller, confirm) = caller.finish(&answer, &ctx);
        let (_, reply) = callee.confirm(&confirm, &ctx).unwrap();
        caller.verify(&reply).unwrap()
    };
    assert_ne!(run().media_caller_to_callee, run().media_caller_to_callee);
}

/// Which step of the handshake refused, for the tamper table.
#[derive(Debug, PartialEq)]
enum Caught {
    /// Step 2: the callee rejects the offer.
    Answer(Error),
    /// Step 4: the callee rejects the caller's confirm.
    CalleeConfirm(Error),
    /// Final: the caller rejects the callee's confirm.
    CallerVerify(Error),
}

#[derive(Default)]
struct Tamper {
    ek: Option<fn(&mut Vec<u8>)>,
    commit: bool,
    ct: bool,
    nonce: bool,
    caller_tag: bool,
    callee_tag: bool,
    callee_ctx: Option<fn(&mut CallContext)>,
}

fn flip(b: &[u8], at: usize) -> Vec<u8> {
    let mut v = b.to_vec();
    v[at] ^= 0x01;
    v
}

/// Runs one seeded handshake with the given tampering in transit; returns where it failed.
fn run(t: Tamper) -> Result<(CallKeys, CallKeys), Caught> {
    let (seed, m, n_a) = seeded(7);
    let caller_ctx = ctx();
    let mut callee_ctx = ctx();
    if let Some(f) = t.callee_ctx {
        f(&mut callee_ctx);
    }
    let (caller, offer) = hazmat::caller_start_seeded(&seed, n_a);
    let mut ek = offer.ek().to_vec();
    if let Some(f) = t.ek {
        f(&mut ek);
    }
    let commit = if t.commit {
        flip(offer.commit(), 0)
    } else {
        offer.commit().to_vec()
    };
    let relayed = OfferKem::from_wire(&encode(&ek), &encode(&commit)).unwrap();
    let (callee, answer) = hazmat::callee_answer_seeded(&relayed, &m).map_err(Caught::Answer)?;
    let ct = if t.ct {
        flip(answer.ct(), 100)
    } else {
        answer.ct().to_vec()
    };
    let answer = AnswerKem::from_wire(&encode(&ct)).unwrap();
    let (caller, confirm) = caller.finish(&answer, &caller_ctx);
    let flip_b64 = |s: String, on: bool| {
        if on {
            use base64::Engine as _;
            encode(&flip(
                &base64::engine::general_purpose::STANDARD.decode(s).unwrap(),
                31,
            ))
        } else {
            s
        }
    };
    let confirm = CallerConfirm::from_wire(
        &flip_b64(confirm.nonce_b64(), t.nonce),
        &flip_b64(confirm.tag_b64(), t.caller_tag),
    )
    .unwrap();
    let (bob, reply) = callee
        .confirm(&confirm, &callee_ctx)
        .map_err(Caught::CalleeConfirm)?;
    let reply = CalleeConfirm::from_wire(&flip_b64(reply.tag_b64(), t.callee_tag)).unwrap();
    let alice = caller.verify(&reply).map_err(Caught::CallerVerify)?;
    Ok((alice, bob))
}

#[test]
fn untampered_seeded_run_agrees() {
    let (a, b) = run(Tamper::default()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn every_tampered_field_is_caught_at_its_step() {
    use Caught::*;
    let caller_tag = Error::TagMismatch(Party::Caller);
    let cases: Vec<(&str, Tamper, Caught)> = vec![
        // A valid but different key: the callee encapsulates to it, the caller's
        // secret differs, and the callee's tag check sees it.
        (
            "ek (valid key)",
            Tamper {
                ek: Some(|ek| ek[0] ^= 1),
                ..Default::default()
            },
            CalleeConfirm(caller_tag.clone()),
        ),
        // Coefficients >= q fail the FIPS 203 §7.2 modulus check at the callee.
        (
            "ek (out of range)",
            Tamper {
                ek: Some(|ek| {
                    ek[0] = 0xff;
                    ek[1] = 0xff;
                }),
                ..Default::default()
            },
            Answer(Error::InvalidEncapsulationKey),
        ),
        (
            "commit",
            Tamper {
                commit: true,
                ..Default::default()
            },
            CalleeConfirm(Error::CommitmentMismatch),
        ),
        (
            "ct",
            Tamper {
                ct: true,
                ..Default::default()
            },
            CalleeConfirm(caller_tag.clone()),
        ),
        (
            "nonce",
            Tamper {
                nonce: true,
                ..Default::default()
            },
            CalleeConfirm(Error::CommitmentMismatch),
        ),
        (
            "caller tag",
            Tamper {
                caller_tag: true,
                ..Default::default()
            },
            CalleeConfirm(caller_tag.clone()),
        ),
        (
            "callee tag",
            Tamper {
                callee_tag: true,
                ..Default::default()
            },
            CallerVerify(Error::TagMismatch(Party::Callee)),
        ),
        (
            "offer fingerprint",
            Tamper {
                callee_ctx: Some(|c| c.offer_fingerprint.push('0')),
                ..Default::default()
            },
            CalleeConfirm(caller_tag.clone()),
        ),
        (
            "answer fingerprint",
            Tamper {
                callee_ctx: Some(|c| c.answer_fingerprint.clear()),
                ..Default::default()
            },
            CalleeConfirm(caller_tag.clone()),
        ),
        (
            "call_id",
            Tamper {
                callee_ctx: Some(|c| c.call_id.push('x')),
                ..Default::default()
            },
            CalleeConfirm(caller_tag.clone()),
        ),
        (
            "caller id",
            Tamper {
                callee_ctx: Some(|c| c.caller_id = "mallory".into()),
                ..Default::default()
            },
            CalleeConfirm(caller_tag.clone()),
        ),
        (
            "callee id",
            Tamper {
                callee_ctx: Some(|c| c.callee_id = "mallory".into()),
                ..Default::default()
            },
            CalleeConfirm(caller_tag),
        ),
    ];
    for (what, tamper, expected) in cases {
        match run(tamper) {
            Err(caught) => assert_eq!(caught, expected, "tampered {what}"),
            Ok(_) => panic!("tampered {what} was not caught"),
        }
    }
}

/// A relay that runs its own handshake with each side: both legs complete, and the
/// codes the two people compare differ, over many seeded runs.
#[test]
fn relay_in_the_middle_gives_different_codes() {
    let ctx = ctx();
    let runs = 300u32;
    let mut equal = 0;
    for r in 0..runs {
        let b = r.to_be_bytes();
        let s = |tag: u8| -> [u8; 32] {
            let mut x = [tag; 32];
            x[..4].copy_from_slice(&b);
            x
        };
        let seed = |tag: u8| -> [u8; 64] {
            let mut x = [tag; 64];
            x[..4].copy_from_slice(&b);
            x
        };
        // Alice offers; the relay keeps her offer and answers it itself.
        let (alice, offer_a) = hazmat::caller_start_seeded(&seed(1), s(2));
        let (relay_as_callee, answer_to_alice) =
            hazmat::callee_answer_seeded(&offer_a, &s(3)).unwrap();
        // The relay offers its own key to Bob.
        let (relay_as_caller, offer_m) = hazmat::caller_start_seeded(&seed(4), s(5));
        let (bob, answer_b) = hazmat::callee_answer_seeded(&offer_m, &s(6)).unwrap();
        // Both legs complete.
        let (relay_as_caller, confirm_m) = relay_as_caller.finish(&answer_b, &ctx);
        let (bob_keys, bob_reply) = bob.confirm(&confirm_m, &ctx).unwrap();
        relay_as_caller.verify(&bob_reply).unwrap();
        let (alice, confirm_a) = alice.finish(&answer_to_alice, &ctx);
        let (_, relay_reply) = relay_as_callee.confirm(&confirm_a, &ctx).unwrap();
        let alice_keys = alice.verify(&relay_reply).unwrap();
        if alice_keys.safety_code == bob_keys.safety_code {
            equal += 1;
        }
        assert_ne!(
            alice_keys.media_caller_to_callee,
            bob_keys.media_caller_to_callee
        );
    }
    assert_eq!(equal, 0, "codes matched in {equal} of {runs} relayed runs");
}

#[test]
fn runtime_wrapper_refuses_out_of_order_steps() {
    let ctx = ctx();
    let (caller, offer) = Caller::start().unwrap();
    let (callee, answer) = Callee::answer(&offer).unwrap();
    let mut a = Handshake::caller(caller);
    let mut b = Handshake::callee(callee);
    // A callee's confirm before the caller has even had the answer.
    let bogus = CalleeConfirm::from_wire(&encode(&[0u8; 32])).unwrap();
    let mut early = Handshake::Failed;
    assert_eq!(
        early.on_callee_confirm(&bogus).unwrap_err(),
        Error::OutOfOrder
    );
    let confirm = a.on_answer(&answer, &ctx).unwrap();
    // The same answer twice.
    let mut again = Handshake::Failed;
    assert_eq!(
        again.on_answer(&answer, &ctx).unwrap_err(),
        Error::OutOfOrder
    );
    assert_eq!(
        a.on_caller_confirm(&confirm, &ctx).unwrap_err(),
        Error::OutOfOrder
    );
    assert!(
        matches!(a, Handshake::Failed),
        "a misuse ends the handshake"
    );
    let reply = b.on_caller_confirm(&confirm, &ctx).unwrap();
    assert!(b.keys().is_some());
    assert_eq!(
        b.on_caller_confirm(&confirm, &ctx).unwrap_err(),
        Error::OutOfOrder
    );
    let _ = reply;
}

#[test]
fn runtime_wrapper_completes_both_sides() {
    let ctx = ctx();
    let (caller, offer) = Caller::start().unwrap();
    let (callee, answer) = Callee::answer(&offer).unwrap();
    let mut a = Handshake::caller(caller);
    let mut b = Handshake::callee(callee);
    let confirm = a.on_answer(&answer, &ctx).unwrap();
    let reply = b.on_caller_confirm(&confirm, &ctx).unwrap();
    let keys = a.on_callee_confirm(&reply).unwrap().clone();
    assert_eq!(Some(&keys), b.keys());
}

#[test]
fn debug_output_never_shows_secrets() {
    let ctx = ctx();
    let (seed, m, n_a) = seeded(9);
    let (caller, offer) = hazmat::caller_start_seeded(&seed, n_a);
    let (callee, answer) = hazmat::callee_answer_seeded(&offer, &m).unwrap();
    let ss = hex::encode(hazmat::callee_shared_secret(&callee));
    let printed_before = format!("{caller:?} {callee:?} {offer:?} {answer:?}");
    let (caller, confirm) = caller.finish(&answer, &ctx);
    let (keys, reply) = callee.confirm(&confirm, &ctx).unwrap();
    let printed = format!("{printed_before} {caller:?} {confirm:?} {reply:?} {keys:?}");
    for secret in [
        ss,
        hex::encode(n_a),
        hex::encode(keys.media_caller_to_callee.expose()),
        hex::encode(keys.media_callee_to_caller.expose()),
    ] {
        assert!(
            !printed.to_lowercase().contains(&secret[..16]),
            "secret in Debug output"
        );
    }
    // Debug of byte arrays prints decimal lists; check one of those too.
    assert!(!printed.contains(&format!("{:?}", &n_a[..4])[1..8]));
    assert!(printed.contains("<redacted>"));
}

/// The key schedule's hashers absorb `ss` and `PRK`, and Keccak-f is a permutation, so a
/// hasher's state gives the secret back: it must be wiped when dropped. (Without `sha3`'s
/// `zeroize` feature this does not compile.)
#[test]
fn key_schedule_hashers_wipe_their_state_on_drop() {
    fn wipes_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wipes_on_drop::<sha3::Sha3_256>();
}

#[test]
fn safety_code_formats_with_leading_zeros() {
    // Find a seeded run with a small code by construction of the display rule.
    let ctx = ctx();
    let (caller, offer) = hazmat::caller_start_seeded(&[1; 64], [2; 32]);
    let (callee, answer) = hazmat::callee_answer_seeded(&offer, &[3; 32]).unwrap();
    let (_, confirm) = caller.finish(&answer, &ctx);
    let (keys, _) = callee.confirm(&confirm, &ctx).unwrap();
    let v = keys.safety_code.value();
    assert!(v < 1_000_000);
    assert_eq!(
        keys.safety_code.to_string(),
        format!("{:03} {:03}", v / 1000, v % 1000)
    );
}
