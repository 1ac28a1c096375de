//! The native Rust client against a real server: typed calls, and a stream that resumes
//! by itself after an interruption with nothing lost and nothing repeated.

mod common;

use pqcall::client::{Client, ClientError, StreamItem};
use pqcall::{AppState, Config};
use pqcall_signaling::Event;
use pqcall_signaling::api::{AnswerKemBody, AnswerRequest, CallIdReason, OfferRequest};
use serde_json::json;

async fn serve() -> (String, AppState) {
    let state = AppState::new(Config::default(), b"client-test-secret-0123456789abcdef");
    (common::serve(state.clone()).await, state)
}

async fn hello(s: &mut pqcall::client::EventStream) -> bool {
    match s.next().await.unwrap() {
        StreamItem::Hello(h) => h.resumed,
        other => panic!("expected hello, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_call_flow_and_refusals() {
    let (base, state) = serve().await;
    let alice = Client::new(&base, state.mint_token("alice", 600).unwrap());
    let bob = Client::new(&base, state.mint_token("bob", 600).unwrap());
    let mut a = alice.events();
    let mut b = bob.events();
    assert!(!hello(&mut a).await);
    assert!(!hello(&mut b).await);
    let req = common::offer_to("bob", "v=0");
    let res = alice.offer(a.conn_id().unwrap(), &req).await.unwrap();
    assert_eq!(res.devices, 1);
    match b.next().await.unwrap() {
        StreamItem::Event {
            event: Event::CallOffer(o),
            id,
        } => {
            assert_eq!(o.call_id, res.call_id);
            assert!(id.is_some());
        }
        other => panic!("{other:?}"),
    }
    // Glare comes back typed, with the existing call.
    match bob
        .offer(
            b.conn_id().unwrap(),
            &OfferRequest {
                to: "alice".into(),
                ..req.clone()
            },
        )
        .await
        .unwrap_err()
    {
        ClientError::Api {
            status: 409,
            code,
            call_id,
            ..
        } => {
            assert_eq!(code, "glare");
            assert_eq!(call_id.as_deref(), Some(res.call_id.as_str()));
        }
        e => panic!("{e:?}"),
    }
    let ans = AnswerRequest {
        call_id: res.call_id.clone(),
        sdp: "v=0".into(),
        kem: AnswerKemBody {
            ct: pqcall_crypto::wire::encode(&[0; 1088]),
        },
    };
    bob.answer(b.conn_id().unwrap(), &ans).await.unwrap();
    assert!(matches!(
        a.next().await.unwrap(),
        StreamItem::Event {
            event: Event::CallAnswer(_),
            ..
        }
    ));
    let end = bob
        .end(
            b.conn_id().unwrap(),
            &CallIdReason {
                call_id: res.call_id,
                reason: Some("bye".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(end.state, pqcall_signaling::CallState::Ended);
    match a.next().await.unwrap() {
        StreamItem::Event {
            event: Event::CallEnded(n),
            ..
        } => assert_eq!(n.reason.as_deref(), Some("bye")),
        other => panic!("{other:?}"),
    }
    // A bad token is returned, not retried forever.
    let mut bad = Client::new(&base, "nope").events();
    assert!(matches!(
        bad.next().await.unwrap_err(),
        ClientError::Api { status: 401, .. }
    ));
}

#[tokio::test]
async fn the_stream_resumes_after_an_interruption() {
    let (base, state) = serve().await;
    let carol = Client::new(&base, state.mint_token("carol", 600).unwrap());
    let mut s = carol.events();
    assert!(!hello(&mut s).await);
    let conn = s.conn_id().unwrap().to_owned();
    let mut next_n: i64 = 0;
    for round in 0..10i64 {
        for _ in 0..10 {
            pqcall::publish_app_event(
                &state,
                vec!["carol".into()],
                "app.n",
                json!({ "n": next_n }),
            )
            .await
            .unwrap();
            next_n += 1;
        }
        // Read some of them, then lose the connection.
        for _ in 0..round {
            assert!(matches!(s.next().await.unwrap(), StreamItem::Event { .. }));
        }
        s.interrupt();
        assert!(hello(&mut s).await, "resumed");
        assert_eq!(s.conn_id(), Some(conn.as_str()), "same device");
        // Exactly the unread ones follow, in order.
        let mut seen = vec![];
        while seen.len() < (10 - round) as usize {
            match s.next().await.unwrap() {
                StreamItem::Event {
                    event: Event::App { data, .. },
                    ..
                } => seen.push(data["n"].as_i64().unwrap()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            seen,
            (next_n - 10 + round..next_n).collect::<Vec<_>>(),
            "round {round}"
        );
    }
}

#[tokio::test]
async fn a_saved_position_resumes_or_resets() {
    let (base, state) = serve().await;
    let dave = Client::new(&base, state.mint_token("dave", 600).unwrap());
    let mut s = dave.events();
    assert!(!hello(&mut s).await);
    pqcall::publish_app_event(&state, vec!["dave".into()], "app.n", json!({"n": 1}))
        .await
        .unwrap();
    assert!(matches!(s.next().await.unwrap(), StreamItem::Event { .. }));
    let (conn, last) = (
        s.conn_id().map(str::to_owned),
        s.last_event_id().map(str::to_owned),
    );
    s.close();
    assert!(matches!(s.next().await.unwrap_err(), ClientError::Closed));
    // Missed while "the app was closed".
    pqcall::publish_app_event(&state, vec!["dave".into()], "app.n", json!({"n": 2}))
        .await
        .unwrap();
    let mut again = dave.events_from(conn.clone(), last);
    assert!(hello(&mut again).await);
    assert_eq!(again.conn_id(), conn.as_deref());
    match again.next().await.unwrap() {
        StreamItem::Event {
            event: Event::App { data, .. },
            ..
        } => assert_eq!(data["n"], 2),
        other => panic!("{other:?}"),
    }
    // A position the server cannot replay from (another epoch): reset, naming where
    // live delivery continues.
    let mut stale = dave.events_from(None, Some("1-1".into()));
    assert!(!hello(&mut stale).await);
    match stale.next().await.unwrap() {
        StreamItem::Reset(r) => assert_eq!(r.reason, "stale_epoch"),
        other => panic!("{other:?}"),
    }
    assert!(
        stale.last_event_id().is_some_and(|id| id != "1-1"),
        "the reset moves the position to the newest id"
    );
}

#[tokio::test]
async fn call_updates_go_between_the_bound_devices_of_an_active_call() {
    use pqcall_signaling::api::{ConfirmKemBody, ConfirmRequest, SdpKind, UpdateRequest};
    let (base, state) = serve().await;
    let alice = Client::new(&base, state.mint_token("alice", 600).unwrap());
    let bob = Client::new(&base, state.mint_token("bob", 600).unwrap());
    let (mut a, mut b1, mut b2) = (alice.events(), bob.events(), bob.events());
    for s in [&mut a, &mut b1, &mut b2] {
        hello(s).await;
    }
    let offer = common::offer_to("bob", "v=0");
    let (ac, bc) = (a.conn_id().unwrap(), b1.conn_id().unwrap());
    let call_id = alice.offer(ac, &offer).await.unwrap().call_id;
    let update = |kind| UpdateRequest {
        call_id: call_id.clone(),
        sdp: "v=0 restart".into(),
        kind,
    };
    let status_code = |e: ClientError| match e {
        ClientError::Api { status, code, .. } => (status, code),
        e => panic!("{e:?}"),
    };
    // Ringing: 409.
    let e = alice.update(ac, &update(SdpKind::Offer)).await.unwrap_err();
    assert_eq!(status_code(e), (409, "invalid_state".into()));
    // A kind that is neither offer nor answer: 400, naming the field.
    let (st, body) = common::post(
        &base,
        &state.mint_token("alice", 600).unwrap(),
        Some(ac),
        "/api/calls/update",
        json!({"call_id": call_id, "sdp": "v=0", "kind": "pranswer"}),
    )
    .await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (400, Some("invalid_field")),
        "{body}"
    );

    let ct = pqcall_crypto::wire::encode(&[0; 1088]);
    let answer = AnswerRequest {
        call_id: call_id.clone(),
        sdp: "v=0".into(),
        kem: AnswerKemBody { ct },
    };
    bob.answer(bc, &answer).await.unwrap();
    let tag = pqcall_crypto::wire::encode(&[0; 32]);
    let confirm = |nonce: bool| ConfirmRequest {
        call_id: call_id.clone(),
        kem: ConfirmKemBody {
            nonce: nonce.then(|| tag.clone()),
            tag: tag.clone(),
        },
    };
    alice.confirm(ac, &confirm(true)).await.unwrap();
    bob.confirm(bc, &confirm(false)).await.unwrap();
    // Bob's other device is not bound to the call: 403.
    let e = bob
        .update(b2.conn_id().unwrap(), &update(SdpKind::Offer))
        .await
        .unwrap_err();
    assert_eq!(status_code(e), (403, "not_a_participant".into()));
    // The caller's restart offer reaches the answering device as `call.update`.
    alice.update(ac, &update(SdpKind::Offer)).await.unwrap();
    loop {
        match b1.next().await.unwrap() {
            StreamItem::Event {
                event: Event::CallUpdate(u),
                ..
            } => {
                assert_eq!(
                    (u.call_id.as_str(), u.sdp.as_str()),
                    (&*call_id, "v=0 restart")
                );
                assert_eq!(u.kind, SdpKind::Offer);
                break;
            }
            StreamItem::Event { .. } => continue,
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn the_conversation_list_read_markers_presence_and_history_are_typed() {
    use pqcall_signaling::activity::{PageRequest, PresenceRequest, ReadRequest};
    use pqcall_signaling::api::{CreateConversationRequest, SendRequest};
    let (base, state) = serve().await;
    let alice = Client::new(&base, state.mint_token("alice", 600).unwrap());
    let bob = Client::new(&base, state.mint_token("bob", 600).unwrap());
    let mut b = bob.events();
    assert!(!hello(&mut b).await);
    let conv = alice
        .create_conversation(&CreateConversationRequest {
            members: vec!["bob".into()],
            title: Some("typed".into()),
            open: None,
        })
        .await
        .unwrap()
        .conversation_id;
    let sent = bob
        .send(&SendRequest {
            conversation_id: conv.clone(),
            body: "hi".into(),
            client_msg_id: "1".into(),
        })
        .await
        .unwrap()
        .message;
    let list = alice.conversations(&PageRequest::default()).await.unwrap();
    assert_eq!(list.conversations[0].unread, 1);
    assert_eq!(list.conversations[0].last_message.as_ref(), Some(&sent));
    let read = ReadRequest {
        conversation_id: conv.clone(),
        message_id: sent.id.clone(),
    };
    alice.mark_read(&read).await.unwrap();
    let list = alice.conversations(&PageRequest::default()).await.unwrap();
    assert_eq!(list.conversations[0].unread, 0);
    let seen = PresenceRequest {
        users: vec!["bob".into()],
    };
    let p = alice.presence(&seen).await.unwrap();
    assert_eq!(
        (p.presence["bob"].online, p.presence["bob"].devices),
        (true, 1)
    );
    assert!(
        alice
            .call_history(&PageRequest::default())
            .await
            .unwrap()
            .calls
            .is_empty()
    );
    let bad = PageRequest {
        before: Some("nope".into()),
        limit: None,
    };
    match alice.call_history(&bad).await.unwrap_err() {
        ClientError::Api { status, code, .. } => {
            assert_eq!((status, code.as_str()), (400, "invalid_field"))
        }
        other => panic!("{other:?}"),
    }
}
