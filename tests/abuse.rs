//! A hostile client against a real server on 127.0.0.1 (HARDENING.md): made-up
//! recipients cost nothing, the event log's budget refuses instead of growing, the
//! stream cap holds under concurrent opens, a reader that stops reading is cut off and
//! gives its slot back, slow requests are dropped, connection caps hold, and one user's
//! connection ids are bounded. Every wait is bounded.

mod common;

use std::time::Duration;

use common::metric;
use futures_util::future::join_all;
use pqcall::{AppState, Config};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &[u8] = b"abuse-secret-0123456789abcdef01234567";

async fn serve(config: Config) -> (String, AppState) {
    let state = AppState::new(config, SECRET);
    (common::serve(state.clone()).await, state)
}

/// A server with a rate limit no test here runs into.
fn unlimited() -> Config {
    Config {
        rate_per_sec: 100_000,
        rate_burst: 100_000,
        ip_rate_per_sec: 100_000,
        ip_rate_burst: 100_000,
        ..Config::default()
    }
}

fn token(state: &AppState, user: &str) -> String {
    state.mint_token(user, 600).unwrap()
}

/// Reads from `tcp` until the server closes it (or resets it): true when it did within
/// `within`.
async fn closed_by_server(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let read_all = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_all).await.is_ok()
}

/// Opens `user`'s stream over a raw socket with the bearer token and never reads it.
async fn raw_stream(base: &str, token: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    tcp
}

#[tokio::test]
async fn made_up_recipients_cost_nothing_until_they_connect() {
    let (base, state) = serve(unlimited()).await;
    let alice = token(&state, "alice");
    let ghosts: Vec<String> = (0..255).map(|i| format!("ghost-{i}")).collect();
    let (st, conv) = common::post(
        &base,
        &alice,
        None,
        "/api/conversations/create",
        json!({"members": ghosts}),
    )
    .await;
    assert_eq!(st, 200, "{conv}");
    let id = conv["conversation_id"].as_str().unwrap().to_owned();
    let body = "x".repeat(16 * 1024);
    for i in 0..40 {
        let send = json!({"conversation_id": id, "body": body, "client_msg_id": format!("m{i}")});
        let (st, _) = common::post(&base, &alice, None, "/api/messages/send", send).await;
        assert_eq!(st, 200);
    }
    // 40 messages of 16 KiB to 256 members would be 160 MiB in the log; nobody
    // connected, so nothing was kept.
    assert_eq!(metric(&base, "pqcall_event_log_bytes").await, 0.0);

    // A member who connects gets what is sent from then on.
    let ghost = token(&state, "ghost-7");
    let mut events = common::open(&base, &ghost, "").await;
    assert_eq!(common::next(&mut events).await.event, "hello");
    let send = json!({"conversation_id": id, "body": "hi", "client_msg_id": "late"});
    let (st, _) = common::post(&base, &alice, None, "/api/messages/send", send).await;
    assert_eq!(st, 200);
    assert_eq!(common::next(&mut events).await.event, "message.new");
    let bytes = metric(&base, "pqcall_event_log_bytes").await;
    assert!(
        bytes > 0.0 && bytes < 4096.0,
        "{bytes} bytes for one short message"
    );
}

#[tokio::test]
async fn a_spent_log_budget_refuses_with_503_server_busy_and_holds() {
    let (base, state) = serve(Config {
        max_log_bytes: 200_000,
        ..unlimited()
    })
    .await;
    let (alice, bob) = (token(&state, "alice"), token(&state, "bob"));
    let mut events = common::open(&base, &bob, "").await;
    assert_eq!(common::next(&mut events).await.event, "hello");
    let create = json!({"members": ["bob"]});
    let (_, conv) = common::post(&base, &alice, None, "/api/conversations/create", create).await;
    let id = conv["conversation_id"].as_str().unwrap();
    let body = "x".repeat(16 * 1024);
    let mut refused = None;
    for i in 0..40 {
        let send = json!({"conversation_id": id, "body": body, "client_msg_id": format!("m{i}")});
        let res = reqwest::Client::new()
            .post(format!("{base}/api/messages/send"))
            .bearer_auth(&alice)
            .json(&send)
            .send()
            .await
            .unwrap();
        if res.status().as_u16() != 200 {
            let retry = res.headers().get("retry-after").cloned();
            refused = Some((
                res.status().as_u16(),
                retry,
                res.json::<Value>().await.unwrap(),
            ));
            break;
        }
    }
    let (status, retry, body) = refused.expect("the budget refuses before 40 messages");
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "server_busy");
    assert!(retry.is_some(), "with Retry-After");
    // At most one request's worth past the budget.
    let bytes = metric(&base, "pqcall_event_log_bytes").await;
    assert!(bytes <= 200_000.0 + 20_000.0, "{bytes}");
    // Reading is not refused.
    let load = json!({"conversation_id": id});
    let (st, _) = common::post(&base, &bob, None, "/api/messages/load", load).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn sixty_four_concurrent_opens_get_exactly_the_cap() {
    let (base, state) = serve(Config {
        max_streams_per_user: 16,
        ..unlimited()
    })
    .await;
    let mallory = token(&state, "mallory");
    let client = reqwest::Client::new();
    let opens = (0..64).map(|_| {
        client
            .get(format!("{base}/api/events"))
            .bearer_auth(&mallory)
            .send()
    });
    let responses: Vec<_> = join_all(opens)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    let refused = responses.iter().filter(|r| r.status() == 429).count();
    assert_eq!((ok, refused), (16, 48));
    assert_eq!(metric(&base, "pqcall_open_streams").await, 16.0);
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_disconnected_and_frees_its_slot() {
    let (base, state) = serve(Config {
        max_streams_per_user: 1,
        write_timeout_secs: 1,
        stream_queue: 100_000,
        max_log_bytes_per_user: 64 << 20,
        ..unlimited()
    })
    .await;
    let slow = token(&state, "slow");
    let mut tcp = raw_stream(&base, &slow).await;
    // Until the stream is registered, a publish may find no log for the user.
    let opened = async {
        while metric(&base, "pqcall_open_streams").await < 1.0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), opened)
        .await
        .unwrap();
    // Far more than the socket buffers hold; the queue never fills, so only the
    // write timeout can end the stream.
    common::publish_padded(&state, "slow", 1000, 16 * 1024).await;
    // The server gives up on the socket (without the client reading a byte): the
    // stream ends, and what it had written is all the client can still read.
    let ended = async {
        while metric(&base, "pqcall_open_streams").await > 0.0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), ended)
        .await
        .unwrap();
    assert!(closed_by_server(&mut tcp, Duration::from_secs(30)).await);
    let freed = async {
        loop {
            let res = reqwest::Client::new()
                .get(format!("{base}/api/events"))
                .bearer_auth(&slow)
                .send()
                .await
                .unwrap();
            if res.status() == 200 {
                return;
            }
            assert_eq!(res.status(), 429);
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), freed)
        .await
        .unwrap();
}

#[tokio::test]
async fn half_sent_requests_are_dropped() {
    let (base, state) = serve(Config {
        header_timeout_secs: 1,
        body_timeout_secs: 1,
        ..unlimited()
    })
    .await;
    let alice = token(&state, "alice");
    let addr = base.trim_start_matches("http://").to_owned();
    // Slowloris: headers that never end.
    let mut slow_headers = TcpStream::connect(&addr).await.unwrap();
    slow_headers
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
        .await
        .unwrap();
    assert!(closed_by_server(&mut slow_headers, Duration::from_secs(20)).await);
    // An idle keep-alive connection is closed after the same time.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    assert!(closed_by_server(&mut idle, Duration::from_secs(20)).await);
    // A body that stops after 9 of 65 000 bytes: 408 request_timeout.
    let mut slow_body = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/messages/send HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {alice}\r\n\
         Content-Type: application/json\r\nContent-Length: 65000\r\n\r\n{{\"body\":"
    );
    slow_body.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), slow_body.read_to_end(&mut answer));
    let _ = read.await.expect("the server answers and closes");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let (base, _) = serve(Config {
        max_connections_per_ip: 4,
        ..unlimited()
    })
    .await;
    let addr = base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        tcp.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(tcp);
    }
    let mut fifth = TcpStream::connect(&addr).await.unwrap();
    let _ = fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert!(closed_by_server(&mut fifth, Duration::from_secs(10)).await);
    let mut buf = Vec::new();
    let _ = fifth.read_to_end(&mut buf).await;
    assert!(buf.is_empty(), "no answer past the cap");
    // One ends: a new one is served.
    drop(held.pop());
    let served = async {
        loop {
            let mut tcp = TcpStream::connect(&addr).await.unwrap();
            let _ = tcp
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await;
            let mut buf = [0u8; 12];
            if tcp.read_exact(&mut buf).await.is_ok() {
                return buf;
            }
            tokio::task::yield_now().await;
        }
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
}

#[tokio::test]
async fn one_users_connection_ids_are_bounded() {
    let (base, state) = serve(Config {
        max_conn_ids_per_user: 8,
        ..unlimited()
    })
    .await;
    let churner = token(&state, "churner");
    for _ in 0..40 {
        let res = reqwest::Client::new()
            .get(format!("{base}/api/events"))
            .bearer_auth(&churner)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        drop(res); // each open makes a new id; each close starts its grace period
    }
    let ids = metric(&base, "pqcall_connections").await;
    assert!(ids <= 8.0, "{ids} connection ids held for one user");
}

#[tokio::test]
async fn fan_out_is_charged_to_the_sender_and_conversations_per_user_are_capped() {
    let (base, state) = serve(Config {
        rate_per_sec: 1,
        rate_burst: 40,
        max_conversations_per_user: 2,
        ..unlimited()
    })
    .await;
    let mallory = token(&state, "mallory");
    let ghosts: Vec<String> = (0..255).map(|i| format!("ghost-{i}")).collect();
    let create = json!({"members": ghosts});
    let (st, conv) = common::post(&base, &mallory, None, "/api/conversations/create", create).await;
    assert_eq!(st, 200, "{conv}");
    let id = conv["conversation_id"].as_str().unwrap();
    // 16 KiB to 256 members: one request and 65 more, more than the bucket holds.
    let big = json!({"conversation_id": id, "body": "x".repeat(16 * 1024), "client_msg_id": "big"});
    let (st, body) = common::post(&base, &mallory, None, "/api/messages/send", big).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // A short message to the same members costs little.
    let small = json!({"conversation_id": id, "body": "hi", "client_msg_id": "small"});
    let (st, _) = common::post(&base, &mallory, None, "/api/messages/send", small).await;
    assert_eq!(st, 200);

    // Conversations per user: the cap (2, the first included), then 429.
    let mut created = Vec::new();
    for _ in 0..2 {
        let empty = json!({"members": []});
        created.push(common::post(&base, &mallory, None, "/api/conversations/create", empty).await);
    }
    assert_eq!(created[0].0, 200);
    let (st, body) = &created[1];
    assert_eq!(
        (*st, body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
}
