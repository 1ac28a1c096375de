//! Live events go only to the nodes that hold a stream of their user: a node subscribes
//! a user's channel with the user's first stream there (before the stream's hello) and
//! unsubscribes with the last, so Redis sends each event to those nodes and no other.
//! Skipped (and says so) when Redis or PostgreSQL does not answer.

mod common;

use std::time::Duration;

use common::cluster::*;
use redis::aio::MultiplexedConnection;

/// How many nodes receive `user`'s live events.
async fn receivers(con: &mut MultiplexedConnection, prefix: &str, user: &str) -> i64 {
    let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(format!("{prefix}:ev:{user}"))
        .query_async(con)
        .await
        .unwrap();
    counts[0].1
}

/// Waits (at most 20 s) until `user`'s events go to `n` nodes: a stream's end reaches
/// its node when the server sees the connection close.
async fn until_receivers(con: &mut MultiplexedConnection, prefix: &str, user: &str, n: i64) {
    let settled = async {
        while receivers(con, prefix, user).await != n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), settled)
        .await
        .unwrap_or_else(|_| panic!("{user}'s events never went to {n} nodes"));
}

#[tokio::test]
async fn a_users_events_reach_only_the_nodes_that_hold_their_streams() {
    if !services_answer().await {
        return;
    }
    let (prefix, nodes) = three_nodes("channels", &[]).await;
    let [n1, n2, n3] = bases(&nodes);
    let (alice, bob) = two_users();
    let client = redis::Client::open(redis_url().as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    assert_eq!(receivers(&mut con, &prefix, &bob).await, 0);

    let mut first = Device::open(&n1, &bob, None).await;
    assert_eq!(
        receivers(&mut con, &prefix, &bob).await,
        1,
        "subscribed before the stream's hello"
    );
    let mut second = Device::open(&n2, &bob, None).await;
    let mut third = Device::open(&n2, &bob, None).await;
    assert_eq!(
        receivers(&mut con, &prefix, &bob).await,
        2,
        "one subscription per node, however many streams it holds"
    );

    // Every stream gets the event, through its own node; alice's node (n3) none of it.
    let a = Device::open(&n3, &alice, None).await;
    let call = offer(&n3, &a, &bob).await["call_id"].clone();
    for device in [&mut first, &mut second, &mut third] {
        assert_eq!(device.until("call.offer").await["call_id"], call);
    }

    drop(first);
    until_receivers(&mut con, &prefix, &bob, 1).await;
    drop(second);
    // n2 still holds a stream of bob's: it stays subscribed, and the stream hears.
    let (st, r) = post(
        &n3,
        &alice,
        Some(&a.conn),
        "/api/calls/end",
        serde_json::json!({"call_id": call}),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(third.until("call.ended").await["call_id"], call);
    assert_eq!(receivers(&mut con, &prefix, &bob).await, 1);
    drop(third);
    until_receivers(&mut con, &prefix, &bob, 0).await;
}
