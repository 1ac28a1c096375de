//! Lossless resume under churn: thousands of events to a user with two devices while
//! both devices' streams are killed at (seeded) random points over 100 times. Each
//! device must receive every event meant for it exactly once, in order.

use std::time::Duration;

mod common;

use common::Events;
use futures_util::StreamExt;
use pqcall::{AppState, Config};
use serde_json::{Value, json};

const SECRET: &[u8] = b"resume-secret-0123456789abcdef0123";
const APP_EVENTS: u64 = 3000;
const ICE_EVENTS: u64 = 600;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// [`common::post`] that must succeed.
async fn post(base: &str, token: &str, conn: Option<&str>, path: &str, body: Value) -> Value {
    let (status, r) = common::post(base, token, conn, path, body).await;
    assert_eq!(status, 200, "{path}: {r}");
    r
}

async fn open(
    base: &str,
    token: &str,
    conn: Option<&str>,
    last: Option<&str>,
) -> (Events, String, String) {
    let mut query = String::new();
    if let Some(c) = conn {
        query.push_str(&format!("&conn_id={c}"));
    }
    if let Some(l) = last {
        query.push_str(&format!("&last_event_id={l}"));
    }
    let mut ev = common::open(base, token, &query).await;
    let hello = common::next(&mut ev).await;
    assert_eq!(hello.event, "hello");
    let h: Value = serde_json::from_str(&hello.data).unwrap();
    let conn = h["conn_id"].as_str().unwrap().to_owned();
    let last = if hello.id.is_empty() {
        last.unwrap_or_default().to_owned()
    } else {
        hello.id
    };
    (ev, conn, last)
}

/// Reads until it has every app event (and, for the answering device, every ICE batch),
/// killing its own stream at random points. Returns how many times it was killed.
async fn consume(
    base: String,
    token: String,
    conn: String,
    last: String,
    expect_ice: bool,
    seed: u64,
) -> u32 {
    let mut rng = Lcg(seed);
    let (mut app_next, mut ice_next, mut kills) = (0u64, 0u64, 0u32);
    let mut last = last;
    let mut ev: Option<Events> = None;
    while app_next < APP_EVENTS || (expect_ice && ice_next < ICE_EVENTS) {
        let mut stream = match ev.take() {
            Some(s) => s,
            None => {
                let (s, c, l) = open(&base, &token, Some(&conn), Some(&last)).await;
                assert_eq!(c, conn, "the device keeps its connection id");
                last = l;
                s
            }
        };
        let budget = 1 + rng.next(40);
        for _ in 0..budget {
            let e = tokio::time::timeout(Duration::from_secs(30), stream.next())
                .await
                .expect("progress")
                .unwrap()
                .unwrap();
            assert!(e.event != "reset", "no reset expected: {}", e.data);
            last = e.id.clone();
            let v: Value = serde_json::from_str(&e.data).unwrap();
            match e.event.as_str() {
                "app.n" => {
                    assert_eq!(v["n"], app_next, "app events exactly once, in order");
                    app_next += 1;
                }
                "call.ice" => {
                    assert!(expect_ice, "ICE reached a device not bound to the call");
                    let n: u64 = v["candidates"][0]["candidate"]
                        .as_str()
                        .unwrap()
                        .split(' ')
                        .nth(5)
                        .unwrap()
                        .parse::<u64>()
                        .unwrap()
                        - 10_000;
                    assert_eq!(n, ice_next, "ICE exactly once, in order");
                    ice_next += 1;
                }
                "call.answered_elsewhere" => assert!(!expect_ice),
                other => panic!("unexpected {other}"),
            }
            if app_next >= APP_EVENTS && (!expect_ice || ice_next >= ICE_EVENTS) {
                break;
            }
        }
        if rng.next(3) == 0 {
            ev = Some(stream);
        } else {
            kills += 1;
            drop(stream);
        }
    }
    kills
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_get_everything_exactly_once_across_100_plus_kills() {
    let config = Config {
        rate_per_sec: 100_000,
        rate_burst: 100_000,
        replay_events: 100_000,
        ..Config::default()
    };
    let state = AppState::new(config, SECRET);
    let (base, _server) = pqcall::serve_loopback(state.clone(), std::future::pending())
        .await
        .unwrap();
    let alice = state.mint_token("alice", 600).unwrap();
    let bob = state.mint_token("bob", 600).unwrap();

    let (_alice_events, alice_conn, _) = open(&base, &alice, None, None).await;
    let (mut d1, c1, l1) = open(&base, &bob, None, None).await;
    let (mut d2, c2, l2) = open(&base, &bob, None, None).await;
    // A call answered on device 1, so Alice's ICE is addressed to it alone.
    let (_, offer) = pqcall_crypto::Caller::start().unwrap();
    let r = post(&base, &alice, Some(&alice_conn), "/api/calls/offer", json!({"to": "bob", "sdp": "v=0", "kem": {"suite": "ML-KEM-768", "ek": offer.ek_b64(), "commit": offer.commit_b64()}})).await;
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    let ct = pqcall_crypto::wire::encode(&[0u8; 1088]);
    assert_eq!(d1.next().await.unwrap().unwrap().event, "call.offer");
    assert_eq!(d2.next().await.unwrap().unwrap().event, "call.offer");
    post(
        &base,
        &bob,
        Some(&c1),
        "/api/calls/answer",
        json!({"call_id": call_id, "sdp": "v=0", "kem": {"ct": ct}}),
    )
    .await;
    drop((d1, d2, l1, l2));
    // Each device's position after the call setup: the newest id, from a fresh hello.
    let (s1, _, p1) = open(&base, &bob, Some(&c1), None).await;
    let (s2, _, p2) = open(&base, &bob, Some(&c2), None).await;
    drop((s1, s2));

    let producer = {
        let (base, state, alice, alice_conn, call_id) = (
            base.clone(),
            state.clone(),
            alice.clone(),
            alice_conn.clone(),
            call_id.clone(),
        );
        tokio::spawn(async move {
            let mut ice = 0u64;
            for n in 0..APP_EVENTS {
                pqcall::publish_app_event(&state, vec!["bob".into()], "app.n", json!({"n": n}))
                    .await
                    .unwrap();
                if n % 5 == 0 && ice < ICE_EVENTS {
                    let cand = format!(
                        "candidate:1 1 udp 2122260223 127.0.0.1 {} typ host",
                        10_000 + ice
                    );
                    post(&base, &alice, Some(&alice_conn), "/api/calls/ice", json!({"call_id": call_id, "candidates": [{"candidate": cand, "sdpMid": "0"}]})).await;
                    ice += 1;
                }
                if n % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let t1 = tokio::spawn(consume(base.clone(), bob.clone(), c1, p1, true, 1));
    let t2 = tokio::spawn(consume(base.clone(), bob.clone(), c2, p2, false, 2));
    producer.await.unwrap();
    let kills = t1.await.unwrap() + t2.await.unwrap();
    assert!(kills >= 100, "only {kills} kills");
}
