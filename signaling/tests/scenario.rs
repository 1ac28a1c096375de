//! A whole call between two users with two devices each, told as a story and driven
//! with simulated time. Read it as documentation of what each device sees.

mod common;
use common::*;
use pqcall_signaling::{CallState, CoreConfig};

#[test]
fn alice_calls_bob_who_has_two_devices() {
    let mut sim = Sim::new(CoreConfig::default());
    // Alice has a laptop and a phone; so does Bob. Each device opened its stream.
    let alice_laptop = sim.connect("alice");
    let alice_phone = sim.connect("alice");
    let bob_laptop = sim.connect("bob");
    let bob_phone = sim.connect("bob");

    // Alice calls from her laptop. Both of Bob's devices ring; the receipt says so.
    let (res, out) = sim
        .core
        .offer(sim.now, "alice", &alice_laptop, &v(offer_to("bob")))
        .unwrap();
    sim.perform(out);
    let call = res.call_id.clone();
    assert_eq!(res.devices, 2);
    assert_eq!(sim.take(&bob_laptop), ["call.offer"]);
    assert_eq!(sim.take(&bob_phone), ["call.offer"]);

    // While it rings, Alice's laptop trickles ICE. The server keeps it for later.
    let (_, out) = sim
        .core
        .ice(sim.now, "alice", &alice_laptop, &v(ice(&call, 2)))
        .unwrap();
    sim.perform(out);
    assert!(sim.names(&bob_laptop).is_empty() && sim.names(&bob_phone).is_empty());

    // Ten seconds later Bob picks up on his phone. Alice's laptop gets the answer, the
    // laptop learns the call was answered elsewhere, and the phone gets the ICE that
    // waited, in order.
    sim.advance(10_000);
    let (res, out) = sim
        .core
        .answer(sim.now, "bob", &bob_phone, &v(answer(&call)))
        .unwrap();
    sim.perform(out);
    assert_eq!(res.state, CallState::Connecting);
    assert_eq!(sim.take(&alice_laptop), ["call.answer"]);
    assert_eq!(sim.take(&bob_laptop), ["call.answered_elsewhere"]);
    assert_eq!(sim.take(&bob_phone), ["call.ice"]);

    // The handshake's confirms cross: Alice first (nonce and tag), then Bob (tag).
    let (_, out) = sim
        .core
        .confirm(sim.now, "alice", &alice_laptop, &v(confirm(&call, true)))
        .unwrap();
    sim.perform(out);
    let (res, out) = sim
        .core
        .confirm(sim.now, "bob", &bob_phone, &v(confirm(&call, false)))
        .unwrap();
    sim.perform(out);
    assert_eq!(res.state, CallState::Active);
    assert_eq!(sim.take(&bob_phone), ["call.confirm"]);
    assert_eq!(sim.take(&alice_laptop), ["call.confirm"]);

    // ICE now flows both ways between the two bound devices only.
    let (_, out) = sim
        .core
        .ice(sim.now, "bob", &bob_phone, &v(ice(&call, 1)))
        .unwrap();
    sim.perform(out);
    assert_eq!(sim.take(&alice_laptop), ["call.ice"]);

    // Bob's laptop is not part of the call and cannot act in it.
    let err = sim
        .core
        .end(sim.now, "bob", &bob_laptop, &v(reason(&call)))
        .unwrap_err();
    assert_eq!(err.code(), "not_a_participant");

    // Alice hangs up. Bob's phone is told; nobody else hears about the call again.
    sim.advance(60_000);
    let (res, out) = sim
        .core
        .end(sim.now, "alice", &alice_laptop, &v(reason(&call)))
        .unwrap();
    sim.perform(out);
    assert_eq!(res.state, CallState::Ended);
    assert_eq!(sim.take(&bob_phone), ["call.ended"]);
    // The ring timeout that was scheduled at the offer fires into a finished call.
    sim.advance(60_000);
    for conn in [&alice_laptop, &alice_phone, &bob_laptop, &bob_phone] {
        assert!(sim.names(conn).is_empty(), "{conn} heard more");
    }
    // Alice's phone never heard anything of the call it did not make.
    // After a while the server forgets the call entirely.
    sim.advance(10 * 60_000);
    assert!(sim.core.call(&call).is_none());
}
