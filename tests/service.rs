//! The service on a real socket (127.0.0.1:0) with real HTTP and SSE clients.

mod common;

use std::time::Duration;

use common::{Events, next as next_of};
use eventsource_stream::{Event as SseEvent, Eventsource};
use futures_util::StreamExt;
use pqcall::{AppState, Config};
use pqcall_crypto::{
    AnswerKem, CallContext, Callee, CalleeConfirm, Caller, CallerConfirm, OfferKem,
};
use serde_json::{Value, json};

const SECRET: &[u8] = b"test secret, at least 32 bytes long!!";

struct Server {
    base: String,
    state: AppState,
    http: reqwest::Client,
}

async fn start(config: Config) -> Server {
    let state = AppState::new(config, SECRET);
    Server {
        base: common::serve(state.clone()).await,
        state,
        http: reqwest::Client::new(),
    }
}

fn cfg() -> Config {
    Config {
        dev: true,
        ring_timeout_ms: 2_000,
        ..Config::default()
    }
}

struct Device {
    token: String,
    conn: String,
    events: Events,
    last_id: Option<String>,
}

impl Server {
    fn token(&self, user: &str) -> String {
        self.state.mint_token(user, 600).unwrap()
    }

    async fn post(&self, path: &str, token: &str, conn: Option<&str>, body: Value) -> (u16, Value) {
        common::post(&self.base, token, conn, path, body).await
    }

    async fn open(&self, user: &str, conn: Option<&str>, last: Option<&str>) -> (Device, SseEvent) {
        let token = self.token(user);
        let ticket = common::ticket(&self.base, &token).await;
        let mut url = format!("{}/api/events?ticket={ticket}", self.base);
        if let Some(c) = conn {
            url.push_str(&format!("&conn_id={c}"));
        }
        if let Some(l) = last {
            url.push_str(&format!("&last_event_id={l}"));
        }
        let res = self.http.get(url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let mut events: Events = Box::pin(res.bytes_stream().eventsource());
        let hello = next_of(&mut events).await;
        assert_eq!(hello.event, "hello");
        let h: Value = serde_json::from_str(&hello.data).unwrap();
        let last_id = if hello.id.is_empty() {
            last.map(str::to_owned)
        } else {
            Some(hello.id.clone())
        };
        if last.is_none() {
            assert!(
                !hello.id.is_empty(),
                "a fresh stream learns its position from hello"
            );
        }
        let dev = Device {
            token,
            conn: h["conn_id"].as_str().unwrap().into(),
            events,
            last_id,
        };
        (dev, hello)
    }
}

impl Device {
    async fn next(&mut self) -> (String, Value) {
        let e = next_of(&mut self.events).await;
        if !e.id.is_empty() {
            self.last_id = Some(e.id.clone());
        }
        (e.event, serde_json::from_str(&e.data).unwrap())
    }
}

fn sdp(fp: &str) -> String {
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=fingerprint:sha-256 {fp}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    )
}

#[tokio::test]
async fn full_call_with_the_real_handshake_and_two_callee_devices() {
    let srv = start(cfg()).await;
    let (mut alice, _) = srv.open("alice", None, None).await;
    let (mut bob_laptop, _) = srv.open("bob", None, None).await;
    let (mut bob_phone, _) = srv.open("bob", None, None).await;

    let (caller, offer) = Caller::start().unwrap();
    let offer_sdp = sdp("AA:BB");
    let (s, r) = srv
        .post("/api/calls/offer", &alice.token, Some(&alice.conn), json!({"to": "bob", "sdp": offer_sdp, "kem": {"suite": "ML-KEM-768", "ek": offer.ek_b64(), "commit": offer.commit_b64()}}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["devices"], 2);
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    for dev in [&mut bob_laptop, &mut bob_phone] {
        let (name, data) = dev.next().await;
        assert_eq!(name, "call.offer");
        assert_eq!(data["call_id"], call_id.as_str());
        assert_eq!(data["from"], "alice");
    }

    // Bob's phone answers with the handshake.
    let relayed = OfferKem::from_wire(&offer.ek_b64(), &offer.commit_b64()).unwrap();
    let (callee, answer) = Callee::answer(&relayed).unwrap();
    let answer_sdp = sdp("CC:DD");
    let (s, r) = srv
        .post(
            "/api/calls/answer",
            &bob_phone.token,
            Some(&bob_phone.conn),
            json!({"call_id": call_id, "sdp": answer_sdp, "kem": {"ct": answer.ct_b64()}}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["state"], "connecting");
    assert_eq!(bob_laptop.next().await.0, "call.answered_elsewhere");
    let (name, data) = alice.next().await;
    assert_eq!(name, "call.answer");
    let ctx = CallContext::from_sdp(
        &call_id,
        "alice",
        "bob",
        &offer_sdp,
        data["sdp"].as_str().unwrap(),
    )
    .unwrap();
    let (caller, confirm) = caller.finish(
        &AnswerKem::from_wire(data["kem"]["ct"].as_str().unwrap()).unwrap(),
        &ctx,
    );

    let (s, _) = srv.post("/api/calls/confirm", &alice.token, Some(&alice.conn), json!({"call_id": call_id, "kem": {"nonce": confirm.nonce_b64(), "tag": confirm.tag_b64()}})).await;
    assert_eq!(s, 200);
    let (name, data) = bob_phone.next().await;
    assert_eq!(name, "call.confirm");
    let their = CallerConfirm::from_wire(
        data["kem"]["nonce"].as_str().unwrap(),
        data["kem"]["tag"].as_str().unwrap(),
    )
    .unwrap();
    let bob_ctx = CallContext::from_sdp(&call_id, "alice", "bob", &offer_sdp, &answer_sdp).unwrap();
    let (bob_keys, reply) = callee.confirm(&their, &bob_ctx).unwrap();
    let (s, r) = srv
        .post(
            "/api/calls/confirm",
            &bob_phone.token,
            Some(&bob_phone.conn),
            json!({"call_id": call_id, "kem": {"tag": reply.tag_b64()}}),
        )
        .await;
    assert_eq!((s, r["state"].as_str()), (200, Some("active")));
    let (name, data) = alice.next().await;
    assert_eq!(name, "call.confirm");
    let alice_keys = caller
        .verify(&CalleeConfirm::from_wire(data["kem"]["tag"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(
        alice_keys.safety_code, bob_keys.safety_code,
        "both people see the same code"
    );

    // ICE both ways, then hang up.
    let cand = json!([{"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}]);
    let (s, _) = srv
        .post(
            "/api/calls/ice",
            &alice.token,
            Some(&alice.conn),
            json!({"call_id": call_id, "candidates": cand}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(bob_phone.next().await.0, "call.ice");
    let (s, _) = srv
        .post(
            "/api/calls/end",
            &bob_phone.token,
            Some(&bob_phone.conn),
            json!({"call_id": call_id}),
        )
        .await;
    assert_eq!(s, 200);
    let (name, data) = alice.next().await;
    assert_eq!(
        (name.as_str(), data["reason"].as_str()),
        ("call.ended", Some("hangup"))
    );
    // The laptop hears nothing more of the call: the next thing it sees is a later event.
    srv.post(
        "/api/calls/ice",
        &alice.token,
        Some(&alice.conn),
        json!({"call_id": call_id, "candidates": [], "done": true}),
    )
    .await;
    pqcall::publish_app_event(
        &srv.state,
        vec!["bob".into()],
        "app.marker",
        json!({"n": 1}),
    )
    .await
    .unwrap();
    assert_eq!(bob_laptop.next().await.0, "app.marker");
}

#[tokio::test]
async fn ring_timeout_decline_and_glare() {
    let srv = start(cfg()).await;
    let (mut alice, _) = srv.open("alice", None, None).await;
    let (mut bob, _) = srv.open("bob", None, None).await;
    let (_, offer) = Caller::start().unwrap();
    let body = |to: &str| json!({"to": to, "sdp": "v=0\r\n", "kem": {"suite": "ML-KEM-768", "ek": offer.ek_b64(), "commit": offer.commit_b64()}});
    let (_, r) = srv
        .post(
            "/api/calls/offer",
            &alice.token,
            Some(&alice.conn),
            body("bob"),
        )
        .await;
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    assert_eq!(bob.next().await.0, "call.offer");
    // Glare: Bob calls Alice while her call rings.
    let (s, r) = srv
        .post(
            "/api/calls/offer",
            &bob.token,
            Some(&bob.conn),
            body("alice"),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(r["error"]["code"], "glare");
    assert_eq!(r["error"]["call_id"], call_id.as_str());
    // Nobody answers: both sides get call.missed (ring timeout is 2 s here).
    assert_eq!(
        alice.next().await,
        ("call.missed".to_owned(), json!({"call_id": call_id}))
    );
    assert_eq!(bob.next().await.0, "call.missed");
    // Decline.
    let (_, r) = srv
        .post(
            "/api/calls/offer",
            &alice.token,
            Some(&alice.conn),
            body("bob"),
        )
        .await;
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    assert_eq!(bob.next().await.0, "call.offer");
    let (s, _) = srv
        .post(
            "/api/calls/decline",
            &bob.token,
            Some(&bob.conn),
            json!({"call_id": call_id, "reason": "busy"}),
        )
        .await;
    assert_eq!(s, 200);
    let (name, data) = alice.next().await;
    assert_eq!(
        (name.as_str(), data["reason"].as_str()),
        ("call.declined", Some("busy"))
    );
    let (s, r) = srv.post("/api/calls/answer", &bob.token, Some(&bob.conn), json!({"call_id": call_id, "sdp": "v=0", "kem": {"ct": pqcall_crypto::wire::encode(&[0; 1088])}})).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("invalid_state"))
    );
}

#[tokio::test]
async fn bad_input_gets_exact_codes() {
    let srv = start(cfg()).await;
    let (alice, _) = srv.open("alice", None, None).await;
    let (bob, _) = srv.open("bob", None, None).await;
    let t = &alice.token;
    let check = |got: (u16, Value), status: u16, code: &str| {
        assert_eq!(got.0, status, "{}", got.1);
        assert_eq!(got.1["error"]["code"], code, "{}", got.1);
        assert!(
            got.1["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    };
    // 401 before anything else.
    check(
        srv.post("/api/calls/offer", "nope", None, json!({})).await,
        401,
        "unauthorized",
    );
    let none_alg =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
    check(
        srv.post("/api/messages/send", none_alg, None, json!({}))
            .await,
        401,
        "unauthorized",
    );
    let expired = {
        use jsonwebtoken::{EncodingKey, Header, encode};
        encode(
            &Header::default(),
            &json!({"sub": "alice", "exp": 1_000_000}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    };
    check(
        srv.post("/api/messages/send", &expired, None, json!({}))
            .await,
        401,
        "unauthorized",
    );
    // 413, then 400 / 422.
    let res = srv
        .http
        .post(format!("{}/api/messages/send", srv.base))
        .bearer_auth(t)
        .body(vec![b' '; 70_000])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    let res = srv
        .http
        .post(format!("{}/api/messages/send", srv.base))
        .bearer_auth(t)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    check(
        srv.post(
            "/api/messages/send",
            t,
            None,
            json!({"conversation_id": "x", "body": "hi"}),
        )
        .await,
        400,
        "missing_field",
    );
    check(
        srv.post(
            "/api/messages/send",
            t,
            None,
            json!({"conversation_id": "x", "body": 1, "client_msg_id": "m"}),
        )
        .await,
        400,
        "invalid_field",
    );
    let short = json!({"to": "bob", "sdp": "v=0", "kem": {"suite": "ML-KEM-768", "ek": pqcall_crypto::wire::encode(&[1; 1000]), "commit": pqcall_crypto::wire::encode(&[1; 32])}});
    check(
        srv.post("/api/calls/offer", t, Some(&alice.conn), short)
            .await,
        422,
        "bad_length",
    );
    // 404, 403.
    let ct = pqcall_crypto::wire::encode(&[0; 1088]);
    check(
        srv.post(
            "/api/calls/answer",
            t,
            Some(&alice.conn),
            json!({"call_id": "0123456789abcdef0123456789abcdef", "sdp": "v=0", "kem": {"ct": ct}}),
        )
        .await,
        404,
        "unknown_call",
    );
    check(
        srv.post(
            "/api/messages/send",
            t,
            None,
            json!({"conversation_id": "nope", "body": "hi", "client_msg_id": "m"}),
        )
        .await,
        404,
        "unknown_conversation",
    );
    let (_, offer) = Caller::start().unwrap();
    let ok_offer = json!({"to": "bob", "sdp": "v=0", "kem": {"suite": "ML-KEM-768", "ek": offer.ek_b64(), "commit": offer.commit_b64()}});
    check(
        srv.post("/api/calls/offer", t, Some(&bob.conn), ok_offer.clone())
            .await,
        403,
        "forbidden",
    );
    // A ticket is single-use.
    let (_, auth) = srv.post("/api/auth/authenticate", t, None, json!({})).await;
    let url = format!(
        "{}/api/events?ticket={}",
        srv.base,
        auth["sse_ticket"].as_str().unwrap()
    );
    let first = srv.http.get(&url).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let again = srv.http.get(&url).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 401);
    // Nothing changed: Bob was never rung by the refused offers.
    let (s, r) = srv
        .post("/api/calls/offer", t, Some(&alice.conn), ok_offer)
        .await;
    assert_eq!((s, r["devices"].as_u64()), (200, Some(1)));
}

#[tokio::test]
async fn chat_send_load_idempotent_and_membership() {
    let srv = start(cfg()).await;
    let (mut bob, _) = srv.open("bob", None, None).await;
    let a = srv.token("alice");
    let (s, r) = srv
        .post(
            "/api/conversations/create",
            &a,
            None,
            json!({"members": ["bob"], "title": "t"}),
        )
        .await;
    assert_eq!(s, 200);
    let conv = r["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(bob.next().await.0, "conversation.created");
    let mut ids = vec![];
    for i in 0..5 {
        let (s, r) = srv.post("/api/messages/send", &a, None, json!({"conversation_id": conv, "body": format!("m{i}"), "client_msg_id": format!("c{i}")})).await;
        assert_eq!(s, 200);
        ids.push(r["message"]["id"].as_str().unwrap().to_owned());
    }
    // A retry returns the first message and fans out nothing new.
    let (_, again) = srv
        .post(
            "/api/messages/send",
            &a,
            None,
            json!({"conversation_id": conv, "body": "different", "client_msg_id": "c0"}),
        )
        .await;
    assert_eq!(again["message"]["id"], ids[0].as_str());
    assert_eq!(again["message"]["body"], "m0");
    for i in 0..5 {
        let (name, data) = bob.next().await;
        assert_eq!(name, "message.new");
        assert_eq!(data["message"]["body"], format!("m{i}"));
    }
    // Pagination, oldest first.
    let (_, page) = srv
        .post(
            "/api/messages/load",
            &a,
            None,
            json!({"conversation_id": conv, "limit": 2}),
        )
        .await;
    assert_eq!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["m3", "m4"]
    );
    assert_eq!(page["has_more"], true);
    let (_, page) = srv
        .post(
            "/api/messages/load",
            &a,
            None,
            json!({"conversation_id": conv, "before": ids[2], "limit": 5}),
        )
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], false);
    // Invite-only: a stranger can neither join nor read.
    let e = srv.token("eve");
    let (s, r) = srv
        .post(
            "/api/conversations/join",
            &e,
            None,
            json!({"conversation_id": conv}),
        )
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = srv
        .post(
            "/api/messages/load",
            &e,
            None,
            json!({"conversation_id": conv}),
        )
        .await;
    assert_eq!(s, 403);
    // Typing reaches the other member, ephemeral (no id).
    let (s, _) = srv
        .post(
            "/api/typing/start",
            &a,
            None,
            json!({"conversation_id": conv}),
        )
        .await;
    assert_eq!(s, 204);
    let ev = next_of(&mut bob.events).await;
    assert_eq!(ev.event, "typing");
    assert!(
        ev.id.is_empty() || Some(&ev.id) == bob.last_id.as_ref(),
        "typing carries no new id"
    );
}

#[tokio::test]
async fn resume_replays_exactly_what_was_missed() {
    let srv = start(cfg()).await;
    let (mut bob, _) = srv.open("bob", None, None).await;
    let publish = |n: u64| {
        pqcall::publish_app_event(&srv.state, vec!["bob".into()], "app.n", json!({"n": n}))
    };
    let mut expected = 0u64;
    let mut sent = 0u64;
    for round in 0..20u64 {
        for _ in 0..5 {
            publish(sent).await.unwrap();
            sent += 1;
        }
        // Read a few of them, then drop the stream mid-flight and resume.
        let read = round % 4;
        for _ in 0..read.min(sent - expected) {
            let (name, data) = bob.next().await;
            assert_eq!(name, "app.n");
            assert_eq!(data["n"], expected);
            expected += 1;
        }
        let (last, conn) = (bob.last_id.clone(), bob.conn.clone());
        drop(bob);
        let (b, hello) = srv.open("bob", Some(&conn), last.as_deref()).await;
        bob = b;
        let h: Value = serde_json::from_str(&hello.data).unwrap();
        assert_eq!(
            h["conn_id"],
            conn.as_str(),
            "the device keeps its connection id"
        );
        assert_eq!(h["resumed"], true);
    }
    while expected < sent {
        let (_, data) = bob.next().await;
        assert_eq!(data["n"], expected, "every event once, in order");
        expected += 1;
    }
    // A garbage id gets a reset naming the newest id.
    let (mut dev, hello) = srv.open("bob", None, Some("not-an-id")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&hello.data).unwrap()["resumed"],
        false
    );
    let (name, data) = dev.next().await;
    assert_eq!(name, "reset");
    assert_eq!(data["reason"], "unknown_id");
}

#[tokio::test]
async fn heartbeats_retry_and_headers() {
    let srv = start(Config {
        heartbeat_ms: 50,
        ..cfg()
    })
    .await;
    let token = srv.token("hb");
    let (_, auth) = srv
        .post("/api/auth/authenticate", &token, None, json!({}))
        .await;
    let res = srv
        .http
        .get(format!(
            "{}/api/events?ticket={}",
            srv.base,
            auth["sse_ticket"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    assert!(
        res.headers().get("content-encoding").is_none(),
        "never compressed"
    );
    let mut body = Box::pin(res.bytes_stream());
    let mut text = String::new();
    while !text.contains(": keep-alive") {
        let chunk = tokio::time::timeout(Duration::from_secs(20), body.next())
            .await
            .expect("a heartbeat")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let retry: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("retry:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((1000..3000).contains(&retry), "retry with jitter: {retry}");
}

#[tokio::test]
async fn open_conversations_can_be_joined_and_cancel_reaches_every_device() {
    let srv = start(cfg()).await;
    let (mut alice, _) = srv.open("alice", None, None).await;
    let (mut b1, _) = srv.open("bob", None, None).await;
    let (mut b2, _) = srv.open("bob", None, None).await;
    let (s, r) = srv
        .post(
            "/api/conversations/create",
            &alice.token,
            None,
            json!({"members": [], "open": true, "title": "lobby"}),
        )
        .await;
    assert_eq!(s, 200);
    let conv = r["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(alice.next().await.0, "conversation.created");
    let (s, r) = srv
        .post(
            "/api/conversations/join",
            &b1.token,
            None,
            json!({"conversation_id": conv}),
        )
        .await;
    assert_eq!((s, r["members"].clone()), (200, json!(["alice", "bob"])));
    let (name, data) = alice.next().await;
    assert_eq!(
        (name.as_str(), data["user_id"].as_str()),
        ("conversation.member_joined", Some("bob"))
    );
    for d in [&mut b1, &mut b2] {
        assert_eq!(d.next().await.0, "conversation.member_joined");
    }
    // Joining again changes nothing and tells nobody.
    let (s, r) = srv
        .post(
            "/api/conversations/join",
            &b1.token,
            None,
            json!({"conversation_id": conv}),
        )
        .await;
    assert_eq!((s, r["members"].clone()), (200, json!(["alice", "bob"])));
    // A canceled ringing call: every device of the callee hears it.
    let (_, offer) = Caller::start().unwrap();
    let (_, r) = srv
        .post("/api/calls/offer", &alice.token, Some(&alice.conn), json!({"to": "bob", "sdp": "v=0", "kem": {"suite": "ML-KEM-768", "ek": offer.ek_b64(), "commit": offer.commit_b64()}}))
        .await;
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    let (s, r) = srv
        .post(
            "/api/calls/end",
            &alice.token,
            Some(&alice.conn),
            json!({"call_id": call_id}),
        )
        .await;
    assert_eq!((s, r["state"].as_str()), (200, Some("canceled")));
    for d in [&mut b1, &mut b2] {
        assert_eq!(d.next().await.0, "call.offer");
        let (name, data) = d.next().await;
        assert_eq!(
            (name.as_str(), data["reason"].as_str()),
            ("call.ended", Some("canceled"))
        );
    }
}

/// docs/PROTOCOL.md §5: a call answered but never confirmed ends with `handshake_timeout` on
/// both bound connections, and is then final (409 on a late confirm).
#[tokio::test]
async fn an_answered_call_never_confirmed_times_out_on_both_sides() {
    let srv = start(Config {
        handshake_timeout_ms: 1_000,
        ..cfg()
    })
    .await;
    let (mut alice, _) = srv.open("alice", None, None).await;
    let (mut bob, _) = srv.open("bob", None, None).await;
    let (_, offer) = Caller::start().unwrap();
    let (_, r) = srv
        .post("/api/calls/offer", &alice.token, Some(&alice.conn), json!({"to": "bob", "sdp": sdp("AA:BB"), "kem": {"suite": "ML-KEM-768", "ek": offer.ek_b64(), "commit": offer.commit_b64()}}))
        .await;
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    assert_eq!(bob.next().await.0, "call.offer");
    let (s, _) = srv.post("/api/calls/answer", &bob.token, Some(&bob.conn), json!({"call_id": call_id, "sdp": sdp("CC:DD"), "kem": {"ct": pqcall_crypto::wire::encode(&[0; 1088])}})).await;
    assert_eq!(s, 200);
    assert_eq!(alice.next().await.0, "call.answer");
    let ended = json!({"call_id": call_id, "reason": "handshake_timeout"});
    assert_eq!(alice.next().await, ("call.ended".to_owned(), ended.clone()));
    assert_eq!(bob.next().await, ("call.ended".to_owned(), ended));
    let (s, r) = srv
        .post(
            "/api/calls/confirm",
            &bob.token,
            Some(&bob.conn),
            json!({"call_id": call_id, "kem": {"tag": pqcall_crypto::wire::encode(&[0; 32])}}),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("invalid_state"))
    );
}
