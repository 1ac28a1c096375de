//! docs/PROTOCOL.md §9 in cluster mode: three `pqcall` processes on one Redis and one
//! PostgreSQL; presence, read markers, the conversations list and call history work
//! whichever node each request lands on. Skipped (and says so) when Redis or PostgreSQL
//! does not answer.

mod common;

use common::cluster::*;
use serde_json::json;

#[tokio::test]
async fn presence_read_markers_and_call_history_cross_nodes() {
    if !services_answer().await {
        return;
    }
    let (_prefix, nodes) = three_nodes(
        "activity",
        &["--ring-timeout-ms", "400", "--conn-grace-ms", "500"],
    )
    .await;
    let [n0, n1, n2] = bases(&nodes);
    let (alice, bob) = two_users();
    let mut a = Device::open(&n0, &alice, None).await;
    let body = json!({"members": [bob.clone()], "title": "across"});
    let (st, r) = post(&n1, &alice, None, "/api/conversations/create", body).await;
    assert_eq!(st, 200, "{r}");
    let conv = r["conversation_id"].as_str().unwrap().to_owned();

    // Bob's first device opens on another node: Alice's node relays the change.
    let mut b = Device::open(&n1, &bob, None).await;
    let changed = a.until("presence.changed").await;
    assert_eq!(changed, json!({"user_id": bob, "online": true}));
    let query = json!({"users": [bob.clone(), "stranger"]});
    let (st, r) = post(&n2, &alice, None, "/api/presence/query", query).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["presence"][&bob], json!({"online": true, "devices": 1}));
    assert_eq!(
        r["presence"]["stranger"],
        json!({"online": false, "devices": 0})
    );

    // A message through one node, the list through another, the read through a third.
    let send = json!({"conversation_id": conv, "body": "hi", "client_msg_id": "m1"});
    let (st, r) = post(&n1, &bob, None, "/api/messages/send", send).await;
    assert_eq!(st, 200, "{r}");
    let message_id = r["message"]["id"].as_str().unwrap().to_owned();
    let (st, r) = post(&n2, &alice, None, "/api/conversations/list", json!({})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["conversations"][0]["conversation_id"], conv.as_str());
    assert_eq!(r["conversations"][0]["unread"], 1);
    let read = json!({"conversation_id": conv, "message_id": message_id});
    let (st, _) = post(&n0, &alice, None, "/api/messages/read", read).await;
    assert_eq!(st, 204);
    let seen = b.until("message.read").await;
    assert_eq!(seen["user_id"], alice.as_str());
    assert_eq!(seen["message_id"], message_id.as_str());

    // A missed call, its timer fired by whichever node: in both histories.
    let r = offer(&n2, &a, &bob).await;
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    assert_eq!(a.until("call.missed").await["call_id"], call_id.as_str());
    for (user, base, direction) in [(&alice, &n1, "outgoing"), (&bob, &n0, "incoming")] {
        // The entry is stored right after the decision commits (docs/PROTOCOL.md §9),
        // which may be a moment after the event reached this stream.
        let entry = loop {
            let (st, h) = post(base, user, None, "/api/calls/history", json!({})).await;
            assert_eq!(st, 200, "{h}");
            if h["calls"][0]["call_id"] == call_id.as_str() {
                break h["calls"][0].clone();
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(entry["outcome"], "missed");
        assert_eq!(entry["direction"], direction);
        assert_eq!(entry["answered_at"], serde_json::Value::Null);
    }

    // Bob leaves; when his grace period ends, Alice hears it once.
    drop(b);
    let changed = a.until("presence.changed").await;
    assert_eq!(changed, json!({"user_id": bob, "online": false}));
}
