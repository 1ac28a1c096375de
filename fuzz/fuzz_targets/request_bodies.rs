//! Every endpoint's body decoding and checks (docs/PROTOCOL.md §1 steps 3 and 7), then the
//! call bodies through a live core: any bytes give `Ok` or an error with a 4xx code,
//! never a panic. The first byte picks the endpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqcall_signaling::api::*;
use pqcall_signaling::{Core, CoreConfig, Error, SequentialIds, Valid, Validate, chat, publish};

/// A peer's bad input is the peer's fault: a client error, never `unavailable` (5xx).
fn code(e: &Error) {
    assert_ne!(e.code(), "unavailable", "{e:?}");
}

fn parse<T: serde::de::DeserializeOwned + Validate>(data: &[u8]) -> Option<Valid<T>> {
    match parse_body::<T>(data) {
        Ok(t) => match Valid::new(t) {
            Ok(t) => Some(t),
            Err(e) => {
                code(&e);
                None
            }
        },
        Err(e) => {
            code(&e);
            None
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&which, data)) = input.split_first() else {
        return;
    };
    let t = 1_700_000_000_000;
    let mut core = Core::with_ids(CoreConfig::default(), Box::new(SequentialIds::default()));
    let (alice, _) = core.connect(t, "alice", None, true);
    let (bob, _) = core.connect(t, "bob", None, true);
    // A ringing call from alice to bob, id 000…003, for the bodies that name a call.
    let ring = Valid::new(OfferRequest {
        to: "bob".into(),
        sdp: "v=0\r\n".into(),
        kem: OfferKemBody {
            suite: "ML-KEM-768".into(),
            // 1184 and 32 zero bytes, base64 (the wire checks only lengths).
            ek: "A".repeat(1579) + "=",
            commit: "A".repeat(43) + "=",
        },
    })
    .expect("a well-formed offer");
    let _ = core.offer(t, "alice", &alice.conn_id, &ring);
    let r = |res: Result<(), Error>| {
        if let Err(e) = res {
            code(&e);
        }
    };
    match which % 12 {
        0 => {
            if let Some(req) = parse::<OfferRequest>(data) {
                r(core.offer(t, "bob", &bob.conn_id, &req).map(drop));
            }
        }
        1 => {
            if let Some(req) = parse::<AnswerRequest>(data) {
                r(core.answer(t, "bob", &bob.conn_id, &req).map(drop));
            }
        }
        2 => {
            if let Some(req) = parse::<ConfirmRequest>(data) {
                r(core.confirm(t, "alice", &alice.conn_id, &req).map(drop));
            }
        }
        3 => {
            if let Some(req) = parse::<IceRequest>(data) {
                r(core.ice(t, "alice", &alice.conn_id, &req).map(drop));
            }
        }
        4 => {
            if let Some(req) = parse::<CallIdReason>(data) {
                r(core.decline(t, "bob", &bob.conn_id, &req).map(drop));
            }
        }
        5 => {
            if let Some(req) = parse::<CallIdReason>(data) {
                r(core.end(t, "alice", &alice.conn_id, &req).map(drop));
            }
        }
        6 => {
            if let Some(req) = parse::<CreateConversationRequest>(data) {
                r(chat::create(t, "alice", "c".repeat(32), &req).map(drop));
            }
        }
        7 => {
            let _ = parse::<ConversationIdBody>(data);
        }
        8 => {
            if let Some(req) = parse::<SendRequest>(data) {
                let conv = chat::Conversation {
                    id: req.conversation_id.clone(),
                    title: None,
                    open: false,
                    members: vec!["alice".into(), "bob".into()],
                    created_by: "alice".into(),
                    created_at: 0,
                };
                r(chat::send(t, &conv, "alice", &req).map(drop));
            }
        }
        9 => {
            if let Some(req) = parse::<LoadRequest>(data) {
                r(req.validate().map(drop));
            }
        }
        10 => {
            if let Some(req) = parse::<PublishRequest>(data) {
                r(publish(&req).map(drop));
            }
        }
        _ => {
            let _ = parse::<DevTokenRequest>(data);
        }
    }
});
