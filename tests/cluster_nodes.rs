//! Three `pqcall` processes on one Redis and one PostgreSQL, every request free to land
//! on any node: a call set up across all three, a node killed with SIGKILL mid-call, a
//! ring timeout that fires once in the cluster, cluster-wide tickets, rates and stream
//! caps, and `/healthz` with a Redis that goes away. Skipped (and says so) when Redis
//! or PostgreSQL does not answer.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::cluster::*;
use common::metric;
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[tokio::test]
async fn a_call_across_three_nodes_survives_killing_the_callees_node() {
    if !services_answer().await {
        return;
    }
    let (_, mut nodes) = three_nodes("3n", &[]).await;
    let [n1, n2, n3] = bases(&nodes);
    let (alice, bob) = two_users();

    // Alice's device on node 1, Bob's two devices on node 2.
    let mut a = Device::open(&n1, &alice, None).await;
    let mut b1 = Device::open(&n2, &bob, None).await;
    let mut b2 = Device::open(&n2, &bob, None).await;

    // Offer through node 1: both of Bob's devices ring on node 2.
    let r = offer(&n1, &a, &bob).await;
    assert_eq!(r["devices"], 2);
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    assert_eq!(b1.until("call.offer").await["call_id"], call_id);
    assert_eq!(b2.until("call.offer").await["call_id"], call_id);

    // Bob's first device answers through node 3.
    let answer = json!({"call_id": call_id, "sdp": "v=0\r\n", "kem": {"ct": b64(1088)}});
    let (st, r) = post(
        &n3,
        &bob,
        Some(&b1.conn),
        "/api/calls/answer",
        answer.clone(),
    )
    .await;
    assert_eq!((st, r["state"].as_str()), (200, Some("connecting")));
    // The same answer again, through node 2: the state machine applied it once.
    let (st, r) = post(&n2, &bob, Some(&b1.conn), "/api/calls/answer", answer).await;
    assert_eq!(
        (st, r["error"]["code"].as_str()),
        (409, Some("invalid_state"))
    );
    assert_eq!(a.until("call.answer").await["call_id"], call_id);
    assert_eq!(
        b2.until("call.answered_elsewhere").await["call_id"],
        call_id
    );

    // Confirms both ways, each through another node.
    let confirm_a = json!({"call_id": call_id, "kem": {"nonce": b64(32), "tag": b64(32)}});
    let (st, _) = post(&n2, &alice, Some(&a.conn), "/api/calls/confirm", confirm_a).await;
    assert_eq!(st, 200);
    b1.until("call.confirm").await;
    let confirm_b = json!({"call_id": call_id, "kem": {"tag": b64(32)}});
    let (st, r) = post(&n3, &bob, Some(&b1.conn), "/api/calls/confirm", confirm_b).await;
    assert_eq!((st, r["state"].as_str()), (200, Some("active")));
    a.until("call.confirm").await;

    // A conversation too, created on node 3.
    let (st, r) = post(
        &n3,
        &alice,
        None,
        "/api/conversations/create",
        json!({"members": [bob]}),
    )
    .await;
    assert_eq!(st, 200);
    let conv = r["conversation_id"].as_str().unwrap().to_owned();
    b1.until("conversation.created").await;

    // Node 2 dies with Bob's devices' streams on it.
    let mut killed = nodes.remove(1);
    killed.child.start_kill().unwrap();
    killed.child.wait().await.unwrap();
    let ice = |n: u32| json!({"call_id": call_id, "candidates": [{"candidate": format!("candidate:{n} 1 udp 1 10.0.0.{n} 5000 typ host"), "sdpMid": "0", "sdpMLineIndex": 0}]});
    // While Bob is away: Alice's ICE (node 1) and a message (node 3).
    for n in 1..=3 {
        let (st, _) = post(&n1, &alice, Some(&a.conn), "/api/calls/ice", ice(n)).await;
        assert_eq!(st, 200);
    }
    let msg = json!({"conversation_id": conv, "body": "still there?", "client_msg_id": "m1"});
    let (st, _) = post(&n3, &alice, None, "/api/messages/send", msg).await;
    assert_eq!(st, 200);

    // Bob's devices come back on node 3 with their ids: nothing missed, nothing twice.
    let before = b1.seen.len();
    let mut b1 = Device::open(&n3, &bob, Some(&b1)).await;
    let mut b2 = Device::open(&n3, &bob, Some(&b2)).await;
    let mut got = Vec::new();
    while got.len() < 4 {
        let (name, v) = b1.next().await;
        got.push((name, v));
    }
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["call.ice", "call.ice", "call.ice", "message.new"]);
    for (i, (_, v)) in got.iter().take(3).enumerate() {
        let cand = v["candidates"][0]["candidate"].as_str().unwrap();
        assert!(
            cand.starts_with(&format!("candidate:{} ", i + 1)),
            "in order"
        );
    }
    assert_eq!(b1.seen.len(), before + 4);
    b2.until("message.new").await;

    // The call goes on: Bob's ICE reaches Alice, then Alice hangs up through node 3.
    let (st, _) = post(&n3, &bob, Some(&b1.conn), "/api/calls/ice", ice(9)).await;
    assert_eq!(st, 200);
    a.until("call.ice").await;
    let (st, r) = post(
        &n3,
        &alice,
        Some(&a.conn),
        "/api/calls/end",
        json!({"call_id": call_id}),
    )
    .await;
    assert_eq!((st, r["state"].as_str()), (200, Some("ended")));
    b1.until("call.ended").await;

    // Every event Bob's answering device saw, across both nodes, once each.
    mark(&n1, &[&bob]).await;
    b1.until("app.mark").await;
    assert_eq!(
        b1.names(),
        [
            "call.offer",
            "call.confirm",
            "conversation.created",
            "call.ice",
            "call.ice",
            "call.ice",
            "message.new",
            "call.ended",
            "app.mark"
        ]
    );
    assert_eq!(b1.user, bob);
}

/// A node killed with SIGKILL cannot close its streams: their leases expire, another
/// node closes them for it, and a call answered on a device that was only there ends
/// with `connection_lost` after the grace period, once, while the user's device on a
/// surviving node keeps ringing for new calls.
#[tokio::test]
async fn a_dead_nodes_streams_are_closed_for_it_and_its_calls_end() {
    if !services_answer().await {
        return;
    }
    let extra = ["--stream-lease-ms", "1500", "--conn-grace-ms", "1000"];
    let (_, mut nodes) = three_nodes("reap", &extra).await;
    let [n1, n2, n3] = bases(&nodes);
    let (alice, bob) = two_users();
    let mut a = Device::open(&n1, &alice, None).await;
    let mut b_dead = Device::open(&n2, &bob, None).await;
    let mut b_live = Device::open(&n3, &bob, None).await;

    // Alice calls Bob; his device on node 2 answers.
    let r = offer(&n1, &a, &bob).await;
    assert_eq!(r["devices"], 2);
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    b_dead.until("call.offer").await;
    let answer = json!({"call_id": call_id, "sdp": "v=0\r\n", "kem": {"ct": b64(1088)}});
    let (st, _) = post(&n2, &bob, Some(&b_dead.conn), "/api/calls/answer", answer).await;
    assert_eq!(st, 200);
    a.until("call.answer").await;
    b_live.until("call.answered_elsewhere").await;

    // Node 2 dies without closing anything, and that device never comes back.
    let mut killed = nodes.remove(1);
    killed.child.start_kill().unwrap();
    killed.child.wait().await.unwrap();
    let ended = a.until("call.ended").await;
    assert_eq!(ended["call_id"], call_id.as_str());
    assert_eq!(ended["reason"], "connection_lost");

    // Bob's other device is still there: a new call rings it, and only it.
    let r = offer(&n3, &a, &bob).await;
    assert_eq!(r["devices"], 1, "{r}");
    assert_eq!(b_live.until("call.offer").await["call_id"], r["call_id"]);
    mark(&n3, &[&alice]).await;
    a.until("app.mark").await;
    let ends = a.names().iter().filter(|n| **n == "call.ended").count();
    assert_eq!(ends, 1, "{:?}", a.names());
}

#[tokio::test]
async fn every_node_reports_the_whole_clusters_connections_and_calls() {
    if !services_answer().await {
        return;
    }
    let (_, nodes) = three_nodes("gauges", &[]).await;
    let [n1, n2, n3] = bases(&nodes);
    let (alice, bob) = two_users();
    let a = Device::open(&n1, &alice, None).await;
    let mut b = Device::open(&n2, &bob, None).await;
    // Each node's /metrics, in order n1, n2, n3: connections, then calls by state.
    async fn counts(bases: [&String; 3], states: &[&str]) -> Vec<Vec<f64>> {
        let mut all = Vec::new();
        for base in bases {
            let mut row = vec![metric(base, "pqcall_connections").await];
            for s in states {
                row.push(metric(base, &format!("pqcall_calls{{state=\"{s}\"}}")).await);
            }
            all.push(row);
        }
        all
    }
    let states = ["ringing", "connecting", "ended"];
    let each = |row: [f64; 4]| vec![row.to_vec(); 3];
    let nodes3 = [&n1, &n2, &n3];
    assert_eq!(counts(nodes3, &states).await, each([2.0, 0.0, 0.0, 0.0]));

    let r = offer(&n1, &a, &bob).await;
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    b.until("call.offer").await;
    assert_eq!(counts(nodes3, &states).await, each([2.0, 1.0, 0.0, 0.0]));

    let answer = json!({"call_id": call_id, "sdp": "v=0\r\n", "kem": {"ct": b64(1088)}});
    let (st, _) = post(&n2, &bob, Some(&b.conn), "/api/calls/answer", answer).await;
    assert_eq!(st, 200);
    assert_eq!(counts(nodes3, &states).await, each([2.0, 0.0, 1.0, 0.0]));

    let end = json!({"call_id": call_id});
    let (st, _) = post(&n3, &alice, Some(&a.conn), "/api/calls/end", end).await;
    assert_eq!(st, 200);
    assert_eq!(counts(nodes3, &states).await, each([2.0, 0.0, 0.0, 1.0]));
}

#[tokio::test]
async fn a_ring_timeout_is_missed_exactly_once_in_the_cluster() {
    if !services_answer().await {
        return;
    }
    let (prefix, nodes) = three_nodes("miss", &["--ring-timeout-ms", "400"]).await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let (alice, bob) = two_users();
    let mut a = Device::open(&bases[0], &alice, None).await;
    let mut b2 = Device::open(&bases[1], &bob, None).await;
    let mut b3 = Device::open(&bases[2], &bob, None).await;
    let mut calls = Vec::new();
    for base in &bases {
        let r = offer(base, &a, &bob).await;
        calls.push(r["call_id"].as_str().unwrap().to_owned());
    }
    for d in [&mut a, &mut b2, &mut b3] {
        let mut missed = Vec::new();
        while missed.len() < 3 {
            missed.push(d.until("call.missed").await["call_id"].clone());
        }
    }
    // Once no node can fire them any more (they left the shared timer set)...
    let client = redis::Client::open(redis_url().as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    loop {
        let left: Vec<String> = redis::cmd("ZRANGE")
            .arg(format!("{prefix}:timers"))
            .arg(0)
            .arg(-1)
            .query_async(&mut con)
            .await
            .unwrap();
        if !left.iter().any(|t| {
            calls
                .iter()
                .any(|c| t.contains(c) && t.contains("ring_timeout"))
        }) {
            break;
        }
        tokio::task::yield_now().await;
    }
    // ...everything after the marker is in order: each device saw each missed call once.
    mark(&bases[0], &[&alice, &bob]).await;
    for d in [&mut a, &mut b2, &mut b3] {
        d.until("app.mark").await;
        let mut missed: Vec<String> = d
            .seen
            .iter()
            .filter(|(n, _)| n == "call.missed")
            .map(|(_, v)| v["call_id"].as_str().unwrap().to_owned())
            .collect();
        missed.sort();
        let mut want = calls.clone();
        want.sort();
        assert_eq!(missed, want, "{} saw each call missed exactly once", d.user);
    }
}

/// Every per-user and per-call key in Redis expires by itself, and events for users who
/// never opened a stream leave nothing behind (a made-up recipient costs nothing).
#[tokio::test]
async fn every_key_expires_and_made_up_recipients_leave_nothing() {
    if !services_answer().await {
        return;
    }
    let (prefix, nodes) = three_nodes("ttl", &[]).await;
    let [n1, n2, _] = bases(&nodes);
    let (alice, bob) = two_users();
    let a = Device::open(&n1, &alice, None).await;
    let mut b = Device::open(&n2, &bob, None).await;
    let ghosts: Vec<String> = (0..50).map(|i| format!("ghost-{i}-{}", salt())).collect();
    let mut members = ghosts.clone();
    members.push(bob.clone());
    let (st, conv) = post(
        &n1,
        &alice,
        None,
        "/api/conversations/create",
        json!({"members": members}),
    )
    .await;
    assert_eq!(st, 200);
    let send =
        json!({"conversation_id": conv["conversation_id"], "body": "hi", "client_msg_id": "m1"});
    let (st, _) = post(&n2, &alice, None, "/api/messages/send", send).await;
    assert_eq!(st, 200);
    b.until("message.new").await;
    let r = offer(&n1, &a, &ghosts[0]).await;
    assert!(r["call_id"].is_string(), "{r}");
    let (st, _) = post(
        &n2,
        &alice,
        Some(&a.conn),
        "/api/auth/authenticate",
        json!({}),
    )
    .await;
    assert_eq!(st, 200); // a ticket and a rate key too

    let client = redis::Client::open(redis_url().as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut con)
        .await
        .unwrap();
    // The cluster-wide keys: one each, bounded by what is open or pending.
    let shared = ["streams", "timers", "gauges", "version"].map(|k| format!("{prefix}:{k}"));
    let mut checked = 0;
    for key in &keys {
        assert!(
            !(key.contains(":state:ghost") || key.contains(":events:ghost")),
            "a log for a user who never connected: {key}"
        );
        if shared.contains(key) {
            continue;
        }
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(ttl > 0, "{key} has no expiry ({ttl})");
        checked += 1;
    }
    assert!(
        checked >= 8,
        "per-user and per-call keys were written: {keys:?}"
    );
}

#[tokio::test]
async fn tickets_rates_and_stream_caps_hold_across_nodes() {
    if !services_answer().await {
        return;
    }
    let flags = [
        "--max-streams-per-user",
        "2",
        "--rate-per-sec",
        "1",
        "--rate-burst",
        "6",
    ];
    let (_, nodes) = three_nodes("lim", &flags).await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let s = salt();

    // A ticket from node 1 works once, on node 2; node 3 refuses it.
    let carol = format!("carol-{s}");
    let t = ticket(&bases[0], &carol).await;
    let res = reqwest::get(format!("{}/api/events?ticket={t}", bases[1]))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = reqwest::get(format!("{}/api/events?ticket={t}", bases[2]))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    drop(res);

    // Two streams per user in the whole cluster.
    let dave = format!("dave-{s}");
    let _d1 = Device::open(&bases[0], &dave, None).await;
    let _d2 = Device::open(&bases[1], &dave, None).await;
    let t = ticket(&bases[2], &dave).await;
    let res = reqwest::get(format!("{}/api/events?ticket={t}", bases[2]))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);

    // A burst of 6 requests per user (stream opens count too), on every node together.
    let erin = format!("erin-{s}");
    let mut codes = Vec::new();
    for i in 0..7 {
        let (st, _) = post(
            &bases[i % 3],
            &erin,
            None,
            "/api/auth/authenticate",
            json!({}),
        )
        .await;
        codes.push(st);
    }
    assert_eq!(codes, [200, 200, 200, 200, 200, 200, 429]);
    // A call step charges the same rate, in the round trip that loads its records (or
    // that commits, when the node's copies spared the load): refused before anything
    // about the call counts.
    let (st, body) = post(
        &bases[1],
        &erin,
        Some("c0ffee"),
        "/api/calls/end",
        json!({"call_id": "no-such-call"}),
    )
    .await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Another user's step goes on to find no call.
    let (st, body) = post(
        &bases[1],
        &format!("fred-{s}"),
        Some("c0ffee"),
        "/api/calls/end",
        json!({"call_id": "no-such-call"}),
    )
    .await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (404, Some("unknown_call"))
    );
}

/// A node on its own Redis server (started here on a free port), which goes away and
/// comes back: `/healthz` says not ready and requests get 503 meanwhile, never 500 and
/// never a false 200.
#[tokio::test]
async fn a_lost_redis_makes_the_node_unready_and_requests_fail_with_503() {
    if !services_answer().await {
        return;
    }
    let Some((port, mut redis)) = private_redis().await else {
        eprintln!("SKIPPED: no redis-server binary to start a private Redis");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}");
    let n = node(&url, "pqcall-lost", &[]).await;
    let health = || async {
        reqwest::get(format!("{}/healthz", n.base))
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(health().await, 200);
    let frank = format!("frank-{}", salt());
    let mut f = Device::open(&n.base, &frank, None).await;

    redis.start_kill().unwrap();
    redis.wait().await.unwrap();
    assert_eq!(health().await, 503);
    let (st, body) = post(&n.base, &frank, None, "/api/auth/authenticate", json!({})).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    // The stream ends, so its client reconnects (to another node, or later).
    loop {
        match tokio::time::timeout(Duration::from_secs(20), f.events.next()).await {
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("the stream did not end when Redis went away"),
        }
    }

    // Redis comes back (empty): the node is ready again by itself.
    let _redis = redis_server(port).await.unwrap();
    let mut tries = 0;
    while health().await != 200 {
        tries += 1;
        assert!(tries < 2000, "the node never became ready again");
        tokio::task::yield_now().await;
    }
    let (st, _) = post(&n.base, &frank, None, "/api/auth/authenticate", json!({})).await;
    assert_eq!(st, 200);
}

async fn free_port() -> Option<u16> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
    Some(l.local_addr().ok()?.port())
}

/// A private `redis-server` on a free port, ready, or `None` without the binary.
async fn private_redis() -> Option<(u16, Child)> {
    // Another socket may take the port between finding it and Redis binding it.
    for _ in 0..5 {
        let port = free_port().await?;
        if let Some(child) = redis_server(port).await {
            return Some((port, child));
        }
    }
    None
}

/// `redis-server` on `port`, ready, or `None` (no binary, or the port is taken).
async fn redis_server(port: u16) -> Option<Child> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Ready to accept connections") {
                return true;
            }
        }
        false
    })
    .await;
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    matches!(ready, Ok(true)).then_some(child)
}

/// Under chat load on two nodes (their own Redis, the shared PostgreSQL): node 1 is
/// killed with SIGKILL, then Redis restarts empty. Every send that got a 200 is still in
/// PostgreSQL; a device resuming after the Redis restart gets `reset` (its log is gone),
/// never a wrong replay; new events flow again.
#[tokio::test]
async fn killing_a_node_and_restarting_redis_under_chat_load_keeps_every_acknowledged_send() {
    if !services_answer().await {
        return;
    }
    let Some((port, redis)) = private_redis().await else {
        eprintln!("SKIPPED: no redis-server binary to start a private Redis");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}");
    let prefix = format!("pqcall-kill-{}", salt());
    let fast = ["--rate-per-sec", "100000", "--rate-burst", "100000"];
    let mut n1 = node(&url, &prefix, &fast).await;
    let n2 = node(&url, &prefix, &fast).await;
    let (alice, bob) = two_users();
    let (st, r) = post(
        &n2.base,
        &alice,
        None,
        "/api/conversations/create",
        json!({"members": [bob]}),
    )
    .await;
    assert_eq!(st, 200);
    let conv = r["conversation_id"].as_str().unwrap().to_owned();
    let bob_dev = Device::open(&n2.base, &bob, None).await;

    // Alice sends through both nodes, one after another; node 1 dies mid-way.
    let http = reqwest::Client::new();
    let mut acked = Vec::new();
    let mut failed = 0;
    let mut redis = Some(redis);
    for i in 0..400 {
        if i == 150 {
            n1.child.start_kill().unwrap();
            n1.child.wait().await.unwrap();
        }
        if i == 250 {
            let mut r = redis.take().unwrap();
            r.start_kill().unwrap();
            r.wait().await.unwrap();
            redis = Some(redis_server(port).await.expect("Redis restarts"));
        }
        let base = if i % 2 == 0 { &n1.base } else { &n2.base };
        let body = json!({"conversation_id": conv, "body": format!("m{i}"), "client_msg_id": format!("c{i}")});
        let res = http
            .post(format!("{base}/api/messages/send"))
            .bearer_auth(token(&alice))
            .json(&body)
            .send()
            .await;
        match res {
            Ok(r) if r.status().as_u16() == 200 => acked.push(format!("m{i}")),
            Ok(r) => {
                let code = r.status().as_u16();
                assert!(code == 503, "a failed send answers 503, not {code}");
                failed += 1;
            }
            Err(_) => failed += 1, // node 1 is gone
        }
    }
    // Everything acknowledged is in PostgreSQL, read back through the surviving node.
    let mut kept = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut q = json!({"conversation_id": conv, "limit": 100});
        if let Some(b) = &before {
            q["before"] = json!(b);
        }
        let (st, page) = post(&n2.base, &alice, None, "/api/messages/load", q).await;
        assert_eq!(st, 200, "{page}");
        let msgs = page["messages"].as_array().unwrap();
        for m in msgs {
            kept.push(m["body"].as_str().unwrap().to_owned());
        }
        if page["has_more"] != true || msgs.is_empty() {
            break;
        }
        before = msgs
            .first()
            .and_then(|m| m["id"].as_str())
            .map(str::to_owned);
    }
    for m in &acked {
        assert!(kept.contains(m), "acknowledged {m} was lost");
    }
    println!(
        "kill + Redis restart under load: {} sends acknowledged, {} kept, {failed} refused",
        acked.len(),
        acked.iter().filter(|m| kept.contains(m)).count()
    );
    assert!(acked.len() > 200, "most sends succeed: {}", acked.len());

    // Bob's device resumes from before the Redis restart: `reset`, then live again.
    // A client reconnects once the node is ready again (503 until it is).
    let mut tries = 0;
    while reqwest::get(format!("{}/healthz", n2.base))
        .await
        .unwrap()
        .status()
        != 200
    {
        tries += 1;
        assert!(tries < 5000, "node 2 never became ready again");
        tokio::task::yield_now().await;
    }
    let mut bob2 = Device::open(&n2.base, &bob, Some(&bob_dev)).await;
    let (name, v) = bob2.next().await;
    assert_eq!(name, "reset", "{v}");
    let (st, _) = post(
        &n2.base,
        &alice,
        None,
        "/api/messages/send",
        json!({"conversation_id": conv, "body": "after", "client_msg_id": "after"}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(bob2.until("message.new").await["message"]["body"], "after");
    drop(bob_dev.events);
    drop(redis);
}
