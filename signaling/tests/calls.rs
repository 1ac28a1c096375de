//! Every transition and every refusal of the call state machine, with exact codes.

mod common;
use common::*;
use pqcall_signaling::api::{ConfirmKemBody, OfferKemBody, OfferRequest};
use pqcall_signaling::{CallState, CoreConfig, Error, Valid};

fn setup() -> (Sim, String, String, String, String) {
    setup_with(CoreConfig::default())
}

fn setup_with(cfg: CoreConfig) -> (Sim, String, String, String, String) {
    let mut sim = Sim::new(cfg);
    let a = sim.connect("alice");
    let b1 = sim.connect("bob");
    let b2 = sim.connect("bob");
    let (res, out) = sim
        .core
        .offer(sim.now, "alice", &a, &v(offer_to("bob")))
        .unwrap();
    sim.perform(out);
    (sim, a, b1, b2, res.call_id)
}

fn answered() -> (Sim, String, String, String, String) {
    answered_with(CoreConfig::default())
}

fn answered_with(cfg: CoreConfig) -> (Sim, String, String, String, String) {
    let (mut sim, a, b1, b2, call) = setup_with(cfg);
    let (_, out) = sim
        .core
        .answer(sim.now, "bob", &b1, &v(answer(&call)))
        .unwrap();
    sim.perform(out);
    for c in [&a, &b1, &b2] {
        sim.take(c);
    }
    (sim, a, b1, b2, call)
}

#[test]
fn decline_tells_caller_and_other_devices() {
    let (mut sim, a, b1, b2, call) = setup();
    sim.take(&b1);
    sim.take(&b2);
    let (res, out) = sim
        .core
        .decline(sim.now, "bob", &b2, &v(reason(&call)))
        .unwrap();
    sim.perform(out);
    assert_eq!(res.state, CallState::Declined);
    assert_eq!(sim.take(&a), ["call.declined"]);
    assert_eq!(sim.take(&b1), ["call.ended"]);
    assert!(sim.take(&b2).is_empty());
    // Nothing more can happen to it.
    assert_eq!(
        sim.core
            .answer(sim.now, "bob", &b1, &v(answer(&call)))
            .unwrap_err()
            .code(),
        "invalid_state"
    );
    assert_eq!(
        sim.core
            .end(sim.now, "alice", &a, &v(reason(&call)))
            .unwrap_err()
            .code(),
        "invalid_state"
    );
}

#[test]
fn caller_cancels_a_ringing_call() {
    let (mut sim, a, b1, b2, call) = setup();
    sim.take(&b1);
    sim.take(&b2);
    let (res, out) = sim
        .core
        .end(sim.now, "alice", &a, &v(reason(&call)))
        .unwrap();
    sim.perform(out);
    assert_eq!(res.state, CallState::Canceled);
    for b in [&b1, &b2] {
        let seen = &sim.inbox[b];
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].name, "call.ended");
        assert!(
            matches!(&seen[0].event, pqcall_signaling::Event::CallEnded(n) if n.reason.as_deref() == Some("canceled"))
        );
    }
    assert!(sim.take(&a).is_empty());
}

#[test]
fn ring_timeout_gives_both_sides_missed_once() {
    let (mut sim, a, b1, b2, call) = setup();
    sim.take(&b1);
    sim.take(&b2);
    sim.advance(44_999);
    assert!(sim.names(&a).is_empty());
    sim.advance(1);
    assert_eq!(sim.take(&a), ["call.missed"]);
    assert_eq!(sim.take(&b1), ["call.missed"]);
    assert_eq!(sim.take(&b2), ["call.missed"]);
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Missed);
    sim.advance(100_000);
    assert!(sim.names(&a).is_empty());
}

#[test]
fn glare_names_the_existing_call() {
    let (mut sim, _a, b1, _b2, call) = setup();
    let err = sim
        .core
        .offer(sim.now, "bob", &b1, &v(offer_to("alice")))
        .unwrap_err();
    assert_eq!(
        err,
        Error::Glare {
            call_id: call.clone()
        }
    );
    assert_eq!(err.code(), "glare");
    // Bob answers the existing call instead.
    sim.core
        .answer(sim.now, "bob", &b1, &v(answer(&call)))
        .unwrap();
    // Once it no longer rings, Bob may call Alice (a second call).
    assert!(
        sim.core
            .offer(sim.now, "bob", &b1, &v(offer_to("alice")))
            .is_ok()
    );
}

#[test]
fn a_device_that_connects_while_ringing_gets_the_offer() {
    let (mut sim, _a, _b1, _b2, call) = setup();
    let b3 = sim.connect("bob");
    assert_eq!(sim.inbox[&b3].len(), 1);
    assert_eq!(sim.inbox[&b3][0].call_id.as_deref(), Some(call.as_str()));
    // Not after it was answered.
    sim.core
        .answer(sim.now, "bob", &b3, &v(answer(&call)))
        .unwrap();
    let b4 = sim.connect("bob");
    assert!(sim.names(&b4).is_empty());
}

#[test]
fn a_resumed_stream_does_not_get_the_offer_twice() {
    let (mut sim, _a, _b1, _b2, _call) = setup();
    // fresh = false: the shell replayed the log, which holds the offer already.
    let (_, out) = sim.core.connect(sim.now, "bob", None, false);
    assert!(out.is_empty());
}

#[test]
fn receipt_counts_only_open_streams() {
    let mut sim = Sim::new(CoreConfig::default());
    let a = sim.connect("alice");
    let (res, _) = sim
        .core
        .offer(sim.now, "alice", &a, &v(offer_to("carol")))
        .unwrap();
    assert_eq!(res.devices, 0);
    let c1 = sim.connect("dave");
    sim.connect("dave");
    let out = sim.core.disconnect(sim.now, &c1);
    sim.perform(out);
    let (res, _) = sim
        .core
        .offer(sim.now, "alice", &a, &v(offer_to("dave")))
        .unwrap();
    assert_eq!(res.devices, 1);
}

#[test]
fn refusals_have_exact_codes() {
    let (mut sim, a, b1, b2, call) = setup();
    let eve = sim.connect("eve");
    let now = sim.now;
    fn code<T>(r: Result<T, Error>) -> &'static str {
        r.map(|_| ()).unwrap_err().code()
    }
    // Unknown and malformed ids are 404.
    assert_eq!(
        code(sim.core.answer(
            now,
            "bob",
            &b1,
            &v(answer("ffffffffffffffffffffffffffffffff"))
        )),
        "unknown_call"
    );
    assert_eq!(
        code(sim.core.answer(now, "bob", &b1, &v(answer("not-an-id")))),
        "unknown_call"
    );
    // Another user's connection id is 403 forbidden.
    assert_eq!(
        code(sim.core.answer(now, "bob", &a, &v(answer(&call)))),
        "forbidden"
    );
    assert_eq!(
        code(sim.core.answer(now, "bob", "0000", &v(answer(&call)))),
        "forbidden"
    );
    assert_eq!(
        code(sim.core.offer(now, "alice", &b1, &v(offer_to("bob")))),
        "forbidden"
    );
    // Only the callee answers or declines.
    assert_eq!(
        code(sim.core.answer(now, "alice", &a, &v(answer(&call)))),
        "not_a_participant"
    );
    assert_eq!(
        code(sim.core.answer(now, "eve", &eve, &v(answer(&call)))),
        "not_a_participant"
    );
    assert_eq!(
        code(sim.core.decline(now, "alice", &a, &v(reason(&call)))),
        "not_a_participant"
    );
    // The callee cannot send ICE, confirm or end before answering.
    assert_eq!(
        code(sim.core.ice(now, "bob", &b1, &v(ice(&call, 1)))),
        "invalid_state"
    );
    assert_eq!(
        code(sim.core.confirm(now, "bob", &b1, &v(confirm(&call, false)))),
        "invalid_state"
    );
    assert_eq!(
        code(sim.core.end(now, "bob", &b1, &v(reason(&call)))),
        "invalid_state"
    );
    // Confirms need the call answered.
    assert_eq!(
        code(sim.core.confirm(now, "alice", &a, &v(confirm(&call, true)))),
        "invalid_state"
    );
    // Shape: calling yourself, wrong suite, wrong lengths.
    assert_eq!(
        code(sim.core.offer(now, "alice", &a, &v(offer_to("alice")))),
        "invalid_field"
    );
    let mut bad = offer_to("bob");
    bad.kem.suite = "X25519".into();
    assert_eq!(code(Valid::new(bad)), "invalid_field");
    let bad = OfferRequest {
        kem: OfferKemBody {
            ek: b64(1183),
            ..kem_offer()
        },
        ..offer_to("bob")
    };
    assert_eq!(code(Valid::new(bad)), "bad_length");
    let bad = OfferRequest {
        kem: OfferKemBody {
            commit: b64(33),
            ..kem_offer()
        },
        ..offer_to("bob")
    };
    assert_eq!(code(Valid::new(bad)), "bad_length");
    let mut bad = answer(&call);
    bad.kem.ct = b64(1087);
    assert_eq!(code(Valid::new(bad)), "bad_length");
    let mut bad = answer(&call);
    bad.kem.ct = "!!".into();
    assert_eq!(code(Valid::new(bad)), "invalid_field");
    let mut empty = ice(&call, 0);
    assert_eq!(code(Valid::new(empty.clone())), "invalid_field");
    empty.done = Some(true);
    assert!(sim.core.ice(now, "alice", &a, &v(empty)).is_ok());
    // Nothing changed by the refusals.
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Ringing);
    let _ = b2;
}

#[test]
fn confirm_rules() {
    let (mut sim, a, b1, b2, call) = answered();
    let now = sim.now;
    fn code<T>(r: Result<T, Error>) -> &'static str {
        r.map(|_| ()).unwrap_err().code()
    }
    // The callee's other device is not a participant.
    assert_eq!(
        code(sim.core.confirm(now, "bob", &b2, &v(confirm(&call, false)))),
        "not_a_participant"
    );
    // The callee waits for the caller's confirm.
    assert_eq!(
        code(sim.core.confirm(now, "bob", &b1, &v(confirm(&call, false)))),
        "invalid_state"
    );
    // The caller must reveal its nonce; the callee must not send one.
    assert_eq!(
        code(
            sim.core
                .confirm(now, "alice", &a, &v(confirm(&call, false)))
        ),
        "missing_field"
    );
    sim.core
        .confirm(now, "alice", &a, &v(confirm(&call, true)))
        .unwrap();
    assert_eq!(
        code(sim.core.confirm(now, "alice", &a, &v(confirm(&call, true)))),
        "invalid_state"
    );
    assert_eq!(
        code(sim.core.confirm(now, "bob", &b1, &v(confirm(&call, true)))),
        "invalid_field"
    );
    let mut short = confirm(&call, false);
    short.kem = ConfirmKemBody {
        nonce: None,
        tag: b64(31),
    };
    assert_eq!(code(Valid::new(short)), "bad_length");
    let (res, _) = sim
        .core
        .confirm(now, "bob", &b1, &v(confirm(&call, false)))
        .unwrap();
    assert_eq!(res.state, CallState::Active);
    assert_eq!(
        code(sim.core.confirm(now, "bob", &b1, &v(confirm(&call, false)))),
        "invalid_state"
    );
}

#[test]
fn either_side_ends_an_answered_call() {
    for callee_ends in [false, true] {
        let (mut sim, a, b1, _b2, call) = answered();
        let (res, out) = if callee_ends {
            sim.core
                .end(sim.now, "bob", &b1, &v(reason(&call)))
                .unwrap()
        } else {
            sim.core
                .end(sim.now, "alice", &a, &v(reason(&call)))
                .unwrap()
        };
        sim.perform(out);
        assert_eq!(res.state, CallState::Ended);
        let (told, quiet) = if callee_ends { (&a, &b1) } else { (&b1, &a) };
        assert_eq!(sim.take(told), ["call.ended"]);
        assert!(sim.take(quiet).is_empty());
        assert_eq!(
            sim.core
                .ice(sim.now, "alice", &a, &v(ice(&call, 1)))
                .unwrap_err()
                .code(),
            "invalid_state"
        );
    }
}

#[test]
fn limits_on_ringing_calls_and_offer_rate() {
    let cfg = CoreConfig {
        max_ringing_per_caller: 2,
        offers_per_minute: 3,
        ..CoreConfig::default()
    };
    let mut sim = Sim::new(cfg);
    let a = sim.connect("alice");
    sim.core
        .offer(sim.now, "alice", &a, &v(offer_to("u1")))
        .unwrap();
    sim.core
        .offer(sim.now, "alice", &a, &v(offer_to("u2")))
        .unwrap();
    match sim
        .core
        .offer(sim.now, "alice", &a, &v(offer_to("u3")))
        .unwrap_err()
    {
        Error::RateLimited {
            what,
            retry_after_secs,
        } => {
            assert_eq!(what, "ringing calls");
            assert_eq!(retry_after_secs, 45);
        }
        e => panic!("{e:?}"),
    }
    // Cancel one: a slot frees, but the per-minute limit (3) is reached after it.
    let first = sim.core.call_ids_ringing_from("alice")[0].clone();
    sim.core
        .end(sim.now, "alice", &a, &v(reason(&first)))
        .unwrap();
    sim.core
        .offer(sim.now, "alice", &a, &v(offer_to("u3")))
        .unwrap();
    let err = sim
        .core
        .end(sim.now, "alice", &a, &v(reason(&first)))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_state");
    sim.advance(1000);
    let second = sim.core.call_ids_ringing_from("alice")[0].clone();
    sim.core
        .end(sim.now, "alice", &a, &v(reason(&second)))
        .unwrap();
    match sim
        .core
        .offer(sim.now, "alice", &a, &v(offer_to("u4")))
        .unwrap_err()
    {
        Error::RateLimited {
            what,
            retry_after_secs,
        } => {
            assert_eq!(what, "offers per minute");
            assert_eq!(retry_after_secs, 59);
        }
        e => panic!("{e:?}"),
    }
    sim.advance(59_000);
    assert!(
        sim.core
            .offer(sim.now, "alice", &a, &v(offer_to("u4")))
            .is_ok()
    );
}

#[test]
fn pending_ice_is_bounded() {
    let cfg = CoreConfig {
        max_pending_candidates: 5,
        ..CoreConfig::default()
    };
    let mut sim = Sim::new(cfg);
    let a = sim.connect("alice");
    let (res, _) = sim
        .core
        .offer(sim.now, "alice", &a, &v(offer_to("bob")))
        .unwrap();
    sim.core
        .ice(sim.now, "alice", &a, &v(ice(&res.call_id, 4)))
        .unwrap();
    assert_eq!(
        sim.core
            .ice(sim.now, "alice", &a, &v(ice(&res.call_id, 2)))
            .unwrap_err()
            .code(),
        "rate_limited"
    );
    sim.core
        .ice(sim.now, "alice", &a, &v(ice(&res.call_id, 1)))
        .unwrap();
}

#[test]
fn grace_keeps_a_call_across_a_blip_and_ends_it_after() {
    // A handshake that may take longer than this test, which is about the grace period.
    let (mut sim, a, b1, _b2, call) = answered_with(CoreConfig {
        handshake_timeout_ms: 600_000,
        ..CoreConfig::default()
    });
    // Bob's phone loses its stream and comes back within the grace period with the
    // same connection id: the call goes on.
    let out = sim.core.disconnect(sim.now, &b1);
    sim.perform(out);
    sim.advance(20_000);
    let (c, _) = sim.core.connect(sim.now, "bob", Some(&b1), false);
    assert!(c.reused);
    assert_eq!(c.conn_id, b1);
    sim.advance(60_000);
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Connecting);
    // Another user cannot take the id over.
    let (c, _) = sim.core.connect(sim.now, "eve", Some(&b1), true);
    assert!(!c.reused);
    // This time it stays away: after the grace period the call ends for Alice.
    let out = sim.core.disconnect(sim.now, &b1);
    sim.perform(out);
    sim.advance(29_999);
    assert!(sim.names(&a).is_empty());
    sim.advance(1);
    assert_eq!(sim.take(&a), ["call.ended"]);
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Ended);
    let (c, _) = sim.core.connect(sim.now, "bob", Some(&b1), true);
    assert!(!c.reused, "an expired id is not given back");
}

#[test]
fn caller_losing_its_connection_cancels_the_ringing_call() {
    let (mut sim, a, b1, _b2, call) = setup();
    sim.take(&b1);
    let out = sim.core.disconnect(sim.now, &a);
    sim.perform(out);
    sim.advance(30_000);
    assert_eq!(sim.take(&b1), ["call.ended"]);
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Canceled);
}

#[test]
fn an_answered_call_that_never_confirms_ends_with_handshake_timeout() {
    let (mut sim, a, b1, b2, call) = answered();
    sim.advance(29_999);
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Connecting);
    sim.advance(1);
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Ended);
    assert_eq!(sim.take(&a), ["call.ended"]);
    assert_eq!(sim.take(&b1), ["call.ended"]);
    assert!(sim.take(&b2).is_empty(), "only the bound connections");
    // Confirmed in time, it never fires.
    let (mut sim, a, b1, _, call) = answered();
    for (user, conn, caller) in [("alice", &a, true), ("bob", &b1, false)] {
        let (_, out) = sim
            .core
            .confirm(sim.now, user, conn, &v(confirm(&call, caller)))
            .unwrap();
        sim.perform(out);
    }
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Active);
    sim.advance(60_000);
    assert_eq!(sim.core.call(&call).unwrap().state, CallState::Active);
}

#[test]
fn updates_go_between_the_bound_connections_of_an_active_call_only() {
    use pqcall_signaling::api::{SdpKind, UpdateRequest};
    let (mut sim, a, b1, b2, call) = answered();
    let now = sim.now;
    let update = |kind| {
        v(UpdateRequest {
            call_id: call.clone(),
            sdp: "v=0\r\na=ice-options:restart\r\n".into(),
            kind,
        })
    };
    let code = |r: Result<_, Error>| r.map(|_: (_, _)| ()).unwrap_err().code();
    // Not before the call is active.
    assert_eq!(
        code(sim.core.update(now, "alice", &a, &update(SdpKind::Offer))),
        "invalid_state"
    );
    sim.core
        .confirm(now, "alice", &a, &v(confirm(&call, true)))
        .unwrap();
    sim.core
        .confirm(now, "bob", &b1, &v(confirm(&call, false)))
        .unwrap();
    for c in [&a, &b1, &b2] {
        sim.take(c);
    }
    // The caller's restart offer reaches the callee's answering device only.
    let (_, out) = sim
        .core
        .update(now, "alice", &a, &update(SdpKind::Offer))
        .unwrap();
    sim.perform(out);
    assert_eq!(sim.take(&b1), ["call.update"]);
    assert!(sim.take(&b2).is_empty() && sim.take(&a).is_empty());
    // Glare: the callee's offer loses while the caller's waits for its answer.
    let glare = sim.core.update(now, "bob", &b1, &update(SdpKind::Offer));
    assert_eq!(code(glare), "glare");
    // The answer goes back to the caller; a second answer has nothing to answer.
    let (_, out) = sim
        .core
        .update(now, "bob", &b1, &update(SdpKind::Answer))
        .unwrap();
    sim.perform(out);
    assert_eq!(sim.take(&a), ["call.update"]);
    let again = sim.core.update(now, "bob", &b1, &update(SdpKind::Answer));
    assert_eq!(code(again), "invalid_state");
    // Another device of a participant is not one.
    assert_eq!(
        code(sim.core.update(now, "bob", &b2, &update(SdpKind::Offer))),
        "not_a_participant"
    );
    // At most UPDATES_PER_MINUTE a minute per call (offers may follow offers).
    let limit = pqcall_signaling::UPDATES_PER_MINUTE;
    for _ in 2..limit {
        sim.core
            .update(now, "alice", &a, &update(SdpKind::Offer))
            .unwrap();
    }
    assert_eq!(
        code(sim.core.update(now, "alice", &a, &update(SdpKind::Offer))),
        "rate_limited"
    );
    assert!(
        sim.core
            .update(now + 60_000, "alice", &a, &update(SdpKind::Offer))
            .is_ok()
    );
    // Not after the end.
    sim.core.end(now, "alice", &a, &v(reason(&call))).unwrap();
    assert_eq!(
        code(
            sim.core
                .update(now + 60_000, "alice", &a, &update(SdpKind::Offer))
        ),
        "invalid_state"
    );
}
