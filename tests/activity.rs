//! docs/PROTOCOL.md §9 over real HTTP and SSE: the conversations list with unread counts,
//! read markers and `message.read`, presence and `presence.changed` (members only), and
//! call history kept in the SQLite file across a restart.

mod common;

use std::sync::Arc;

use common::{Events, next, open, post, serve, serve_until};
use pqcall::{AppState, Auth, Config, SqliteStore};
use serde_json::{Value, json};

const SECRET: &[u8] = b"test secret, at least 32 bytes long!!";

fn cfg() -> Config {
    Config {
        dev: true,
        ring_timeout_ms: 1_000,
        conn_grace_ms: 300,
        ..Config::default()
    }
}

fn sdp() -> String {
    let fp = vec!["AB"; 32].join(":");
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=fingerprint:sha-256 {fp}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    )
}

/// The next event of `events` that is not `skip`: its name and data.
async fn next_named(events: &mut Events, skip: &[&str]) -> (String, Value) {
    loop {
        let e = next(events).await;
        if !skip.contains(&e.event.as_str()) {
            return (e.event, serde_json::from_str(&e.data).unwrap());
        }
    }
}

/// A server on memory stores, and tokens for alice, bob and carol.
async fn alice_bob_carol() -> (String, [String; 3]) {
    let state = AppState::new(cfg(), SECRET);
    let base = serve(state.clone()).await;
    (base, ["alice", "bob", "carol"].map(|u| token(&state, u)))
}

/// `user`'s token on `state`.
fn token(state: &AppState, user: &str) -> String {
    state.mint_token(user, 600).unwrap()
}

/// Opens `user`'s stream and reads `hello`: the stream and its connection id.
async fn connect(base: &str, tok: &str) -> (Events, String) {
    let mut events = open(base, tok, "").await;
    let hello = next(&mut events).await;
    assert_eq!(hello.event, "hello");
    let h: Value = serde_json::from_str(&hello.data).unwrap();
    (events, h["conn_id"].as_str().unwrap().to_owned())
}

async fn create(base: &str, tok: &str, members: &[&str], title: &str) -> String {
    let body = json!({"members": members, "title": title});
    let (status, r) = post(base, tok, None, "/api/conversations/create", body).await;
    assert_eq!(status, 200, "{r}");
    r["conversation_id"].as_str().unwrap().to_owned()
}

async fn send(base: &str, tok: &str, conv: &str, text: &str) -> String {
    let body = json!({"conversation_id": conv, "body": text, "client_msg_id": text});
    let (status, r) = post(base, tok, None, "/api/messages/send", body).await;
    assert_eq!(status, 200, "{r}");
    r["message"]["id"].as_str().unwrap().to_owned()
}

async fn list(base: &str, tok: &str, body: Value) -> Value {
    let (status, r) = post(base, tok, None, "/api/conversations/list", body).await;
    assert_eq!(status, 200, "{r}");
    r
}

#[tokio::test]
async fn the_list_counts_unread_messages_and_read_markers_reach_the_others() {
    let (base, [alice, bob, carol]) = alice_bob_carol().await;
    let first = create(&base, &alice, &["bob"], "first").await;
    let second = create(&base, &alice, &["carol"], "second").await;
    let (mut bob_events, _) = connect(&base, &bob).await;

    let m1 = send(&base, &bob, &first, "one").await;
    let m2 = send(&base, &bob, &first, "two").await;
    let r = list(&base, &alice, json!({})).await;
    assert_eq!(r["has_more"], false);
    let convs = r["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 2);
    assert_eq!(
        convs[0]["conversation_id"],
        first.as_str(),
        "latest activity first"
    );
    assert_eq!(convs[0]["title"], "first");
    assert_eq!(convs[0]["members"], json!(["alice", "bob"]));
    assert_eq!(convs[0]["open"], false);
    assert_eq!(convs[0]["unread"], 2);
    assert_eq!(convs[0]["last_message"]["id"], m2.as_str());
    assert_eq!(convs[0]["last_message"]["body"], "two");
    assert_eq!(convs[1]["conversation_id"], second.as_str());
    assert_eq!(convs[1]["last_message"], Value::Null);
    let page = list(&base, &alice, json!({"limit": 1})).await;
    assert_eq!(
        (
            page["conversations"].as_array().unwrap().len(),
            &page["has_more"]
        ),
        (1, &json!(true))
    );
    let rest = list(&base, &alice, json!({"before": first, "limit": 1})).await;
    assert_eq!(rest["conversations"][0]["conversation_id"], second.as_str());
    assert_eq!(rest["has_more"], false);

    // Alice reads the first message: Bob learns it; her count drops.
    let read = |id: &str| json!({"conversation_id": first, "message_id": id});
    let (status, _) = post(&base, &alice, None, "/api/messages/read", read(&m1)).await;
    assert_eq!(status, 204);
    let skip = ["message.new"];
    let (name, data) = next_named(&mut bob_events, &skip).await;
    assert_eq!(name, "message.read");
    assert_eq!(
        data,
        json!({"conversation_id": first, "user_id": "alice", "message_id": m1})
    );
    let r = list(&base, &alice, json!({})).await;
    assert_eq!(r["conversations"][0]["unread"], 1);
    // An older marker changes nothing and tells nobody; a newer one does.
    let (status, _) = post(&base, &alice, None, "/api/messages/read", read(&m1)).await;
    assert_eq!(status, 204);
    let (status, _) = post(&base, &alice, None, "/api/messages/read", read(&m2)).await;
    assert_eq!(status, 204);
    let (name, data) = next_named(&mut bob_events, &skip).await;
    assert_eq!(
        (name.as_str(), &data["message_id"]),
        ("message.read", &json!(m2))
    );
    let r = list(&base, &alice, json!({})).await;
    assert_eq!(r["conversations"][0]["unread"], 0);

    // Bad input: a clear 4xx, nothing changed.
    let cases = [
        (
            &alice,
            json!({"conversation_id": first}),
            400,
            "missing_field",
        ),
        (
            &alice,
            json!({"conversation_id": first, "message_id": 7}),
            400,
            "invalid_field",
        ),
        (
            &alice,
            json!({"conversation_id": first, "message_id": "nope"}),
            400,
            "invalid_field",
        ),
        // The number of a message, but not its id as written: ids sort as text.
        (
            &alice,
            json!({"conversation_id": first, "message_id": "9"}),
            400,
            "invalid_field",
        ),
        (
            &alice,
            json!({"conversation_id": second, "message_id": m1}),
            400,
            "invalid_field",
        ),
        (
            &alice,
            json!({"conversation_id": "00", "message_id": m1}),
            404,
            "unknown_conversation",
        ),
        (&carol, read(&m1), 403, "forbidden"),
    ];
    for (tok, body, want, code) in cases {
        let (status, r) = post(&base, tok, None, "/api/messages/read", body.clone()).await;
        assert_eq!(
            (status, r["error"]["code"].as_str()),
            (want, Some(code)),
            "{body}"
        );
    }
    for body in [
        json!({"limit": 0}),
        json!({"limit": 101}),
        json!({"before": 5}),
    ] {
        let (status, r) = post(&base, &alice, None, "/api/conversations/list", body).await;
        assert_eq!(status, 400, "{r}");
    }
    let (status, r) = post(
        &base,
        &carol,
        None,
        "/api/conversations/list",
        json!({"before": first}),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (400, Some("invalid_field"))
    );
    let r = list(&base, &carol, json!({})).await;
    assert_eq!(
        r["conversations"].as_array().unwrap().len(),
        1,
        "only her own"
    );
}

#[tokio::test]
async fn presence_is_shown_to_members_and_hidden_from_strangers() {
    let (base, [alice, bob, carol]) = alice_bob_carol().await;
    create(&base, &alice, &["bob"], "pair").await;
    let (mut alice_events, _) = connect(&base, &alice).await;
    let query = |users: Value| json!({ "users": users });

    let (status, r) = post(
        &base,
        &alice,
        None,
        "/api/presence/query",
        query(json!(["bob", "alice"])),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["presence"]["bob"], json!({"online": false, "devices": 0}));
    assert_eq!(
        r["presence"]["alice"],
        json!({"online": true, "devices": 1})
    );

    // Bob's first device: Alice is told; his second device tells nobody again.
    let (bob_events, _) = connect(&base, &bob).await;
    let (name, data) = next_named(&mut alice_events, &[]).await;
    assert_eq!(
        (name.as_str(), data),
        (
            "presence.changed",
            json!({"user_id": "bob", "online": true})
        )
    );
    let (bob_events2, _) = connect(&base, &bob).await;
    let (status, r) = post(
        &base,
        &alice,
        None,
        "/api/presence/query",
        query(json!(["bob"])),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(r["presence"]["bob"], json!({"online": true, "devices": 2}));

    // Carol shares no conversation with Bob: she learns nothing about him.
    let (_carol_events, _) = connect(&base, &carol).await;
    let (status, r) = post(
        &base,
        &carol,
        None,
        "/api/presence/query",
        query(json!(["bob", "alice"])),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(r["presence"]["bob"], json!({"online": false, "devices": 0}));
    assert_eq!(
        r["presence"]["alice"],
        json!({"online": false, "devices": 0})
    );

    // Both of Bob's devices leave; when the grace period ends Alice is told once.
    drop((bob_events, bob_events2));
    let (name, data) = next_named(&mut alice_events, &[]).await;
    assert_eq!(
        (name.as_str(), data),
        (
            "presence.changed",
            json!({"user_id": "bob", "online": false})
        )
    );
    let (_, r) = post(
        &base,
        &alice,
        None,
        "/api/presence/query",
        query(json!(["bob"])),
    )
    .await;
    assert_eq!(r["presence"]["bob"]["online"], false);

    let many: Vec<String> = (0..101).map(|n| format!("u{n}")).collect();
    for (body, code) in [
        (query(json!(many)), "invalid_field"),
        (query(json!(["bad user\n"])), "invalid_field"),
        (json!({}), "missing_field"),
    ] {
        let (status, r) = post(&base, &alice, None, "/api/presence/query", body).await;
        assert_eq!((status, r["error"]["code"].as_str()), (400, Some(code)));
    }
}

#[tokio::test]
async fn a_missed_call_stays_in_both_histories_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (state, base, task) = start(&path, async move { drop(stop_rx.await) }).await;
    let (alice, bob) = (token(&state, "alice"), token(&state, "bob"));
    let (mut alice_events, alice_conn) = connect(&base, &alice).await;
    let (bob_events, bob_conn) = connect(&base, &bob).await;

    // A missed call (nobody answers) and a declined one.
    let offer = serde_json::to_value(common::offer_to("bob", &sdp())).unwrap();
    let (status, r) = post(
        &base,
        &alice,
        Some(&alice_conn),
        "/api/calls/offer",
        offer.clone(),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let missed = r["call_id"].as_str().unwrap().to_owned();
    let (name, _) = next_named(&mut alice_events, &["presence.changed"]).await;
    assert_eq!(name, "call.missed");
    // The final event came after the history entry was kept.
    let (status, h) = post(&base, &alice, None, "/api/calls/history", json!({})).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["calls"][0]["call_id"], missed.as_str());
    let (status, r) = post(&base, &alice, Some(&alice_conn), "/api/calls/offer", offer).await;
    assert_eq!(status, 200, "{r}");
    let declined = r["call_id"].as_str().unwrap().to_owned();
    let body = json!({"call_id": declined, "reason": "busy"});
    let (status, r) = post(&base, &bob, Some(&bob_conn), "/api/calls/decline", body).await;
    assert_eq!(status, 200, "{r}");
    drop((alice_events, bob_events));

    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    drop(state);

    let (state, base, _task) = start(&path, std::future::pending()).await;
    let alice = token(&state, "alice");
    let bob = token(&state, "bob");
    let (status, h) = post(&base, &alice, None, "/api/calls/history", json!({})).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["has_more"], false);
    let calls = h["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["call_id"], declined.as_str(), "newest first");
    assert_eq!(calls[0]["outcome"], "declined");
    assert_eq!(calls[1]["call_id"], missed.as_str());
    assert_eq!(calls[1]["outcome"], "missed");
    assert_eq!(calls[1]["direction"], "outgoing");
    assert_eq!(calls[1]["peer"], "bob");
    assert_eq!(calls[1]["answered_at"], Value::Null);
    let started = calls[1]["started_at"].as_u64().unwrap();
    assert!(calls[1]["ended_at"].as_u64().unwrap() >= started);
    let (_, h) = post(&base, &bob, None, "/api/calls/history", json!({"limit": 1})).await;
    assert_eq!(h["calls"][0]["call_id"], declined.as_str());
    assert_eq!(h["calls"][0]["direction"], "incoming");
    assert_eq!(h["calls"][0]["peer"], "alice");
    assert_eq!(h["has_more"], true);
    let (_, h) = post(
        &base,
        &bob,
        None,
        "/api/calls/history",
        json!({"before": declined}),
    )
    .await;
    assert_eq!(h["calls"][0]["call_id"], missed.as_str());
    let (status, r) = post(
        &base,
        &bob,
        None,
        "/api/calls/history",
        json!({"before": "nope"}),
    )
    .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (400, Some("invalid_field"))
    );
}

/// Serves a state on the SQLite file `path` until `stop`.
async fn start(
    path: &std::path::Path,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (
    AppState,
    String,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let store = Arc::new(SqliteStore::open(path).await.unwrap());
    let state = AppState::build(cfg(), Auth::hs256(SECRET), store);
    let (base, task) = serve_until(state.clone(), stop).await;
    (state, base, task)
}
