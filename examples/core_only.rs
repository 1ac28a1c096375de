//! The signaling core driven without HTTP: a whole call between two users, in memory,
//! with simulated time. The same core runs inside the server.
//!
//! ```sh
//! cargo run --example core_only
//! ```

use pqcall_crypto::{
    AnswerKem, CallContext, Callee, CalleeConfirm, Caller, CallerConfirm, OfferKem,
};
use pqcall_signaling::api::{
    AnswerKemBody, AnswerRequest, CallIdReason, ConfirmKemBody, ConfirmRequest, OfferKemBody,
    OfferRequest,
};
use pqcall_signaling::{Core, CoreConfig, Event, Output, Valid};

/// What a shell does with outputs; here: print them and hand call events back.
fn perform(outputs: Vec<Output>, inbox: &mut Vec<(String, Event)>) {
    for o in outputs {
        match o {
            Output::Deliver {
                user,
                audience,
                event,
            } => {
                println!("  -> {user} ({audience:?}): {}", event.name());
                inbox.push((user, event));
            }
            Output::Ephemeral { user, event } => {
                println!("  -> {user} (live only): {}", event.name())
            }
            Output::Timer { at, timer } => println!("  timer at +{} ms: {timer:?}", at - T0),
            Output::CallFinished(call) => println!("  call history: {call:?}"),
            Output::Presence { user, online } => println!("  presence: {user} online={online}"),
        }
    }
}

const T0: u64 = 1_700_000_000_000;

fn main() -> anyhow::Result<()> {
    let mut core = Core::new(CoreConfig::default());
    let mut inbox = Vec::new();
    let (alice, _) = core.connect(T0, "alice", None, true);
    let (bob, _) = core.connect(T0, "bob", None, true);
    let (offer_sdp, answer_sdp) = (
        "v=0\r\na=fingerprint:sha-256 AA:01\r\n",
        "v=0\r\na=fingerprint:sha-256 BB:02\r\n",
    );

    println!("alice offers");
    let (caller, kem) = Caller::start()?;
    let req = OfferRequest {
        to: "bob".into(),
        sdp: offer_sdp.into(),
        kem: OfferKemBody {
            suite: "ML-KEM-768".into(),
            ek: kem.ek_b64(),
            commit: kem.commit_b64(),
        },
    };
    let (res, out) = core.offer(T0, "alice", &alice.conn_id, &Valid::new(req)?)?;
    perform(out, &mut inbox);
    let call_id = res.call_id;

    println!("bob answers");
    let Some((_, Event::CallOffer(offer))) = inbox.pop() else {
        anyhow::bail!("no offer")
    };
    let (callee, answer) = Callee::answer(&OfferKem::from_wire(&offer.kem.ek, &offer.kem.commit)?)?;
    let req = AnswerRequest {
        call_id: call_id.clone(),
        sdp: answer_sdp.into(),
        kem: AnswerKemBody {
            ct: answer.ct_b64(),
        },
    };
    let (_, out) = core.answer(T0 + 3000, "bob", &bob.conn_id, &Valid::new(req)?)?;
    perform(out, &mut inbox);

    println!("alice confirms");
    let ctx = CallContext::from_sdp(&call_id, "alice", "bob", offer_sdp, answer_sdp)?;
    let Some((_, Event::CallAnswer(a))) = inbox.into_iter().find(|(u, _)| u == "alice") else {
        anyhow::bail!("no answer")
    };
    let mut inbox = Vec::new();
    let (caller, confirm) = caller.finish(&AnswerKem::from_wire(&a.kem.ct)?, &ctx);
    let req = ConfirmRequest {
        call_id: call_id.clone(),
        kem: ConfirmKemBody {
            nonce: Some(confirm.nonce_b64()),
            tag: confirm.tag_b64(),
        },
    };
    let (_, out) = core.confirm(T0 + 3100, "alice", &alice.conn_id, &Valid::new(req)?)?;
    perform(out, &mut inbox);

    println!("bob confirms");
    let Some((_, Event::CallConfirm(c))) = inbox.pop() else {
        anyhow::bail!("no confirm")
    };
    let (bob_keys, reply) = callee.confirm(
        &CallerConfirm::from_wire(c.kem.nonce.as_deref().unwrap_or_default(), &c.kem.tag)?,
        &ctx,
    )?;
    let req = ConfirmRequest {
        call_id: call_id.clone(),
        kem: ConfirmKemBody {
            nonce: None,
            tag: reply.tag_b64(),
        },
    };
    let (state, out) = core.confirm(T0 + 3200, "bob", &bob.conn_id, &Valid::new(req)?)?;
    perform(out, &mut inbox);
    let Some((_, Event::CallConfirm(c))) = inbox.pop() else {
        anyhow::bail!("no confirm")
    };
    let alice_keys = caller.verify(&CalleeConfirm::from_wire(&c.kem.tag)?)?;
    println!(
        "call is {:?}; alice sees {}, bob sees {}",
        state.state, alice_keys.safety_code, bob_keys.safety_code
    );

    println!("alice hangs up");
    let (state, out) = core.end(
        T0 + 60_000,
        "alice",
        &alice.conn_id,
        &Valid::new(CallIdReason {
            call_id,
            reason: None,
        })?,
    )?;
    perform(out, &mut inbox);
    println!("call is {:?}", state.state);
    Ok(())
}
