//! Limits and operations: per-user rate limit, stream cap, slow readers cut off (and
//! resumed without loss), metrics, server-side publish.

mod common;

use std::time::Duration;

use common::{metric, metrics_text};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use pqcall::{AppState, Config};
use serde_json::{Value, json};

const SECRET: &[u8] = b"limits-secret-0123456789abcdef0123";

async fn serve(config: Config) -> (String, AppState) {
    let state = AppState::new(config, SECRET);
    (common::serve(state.clone()).await, state)
}

async fn ticket(base: &str, state: &AppState, user: &str) -> String {
    common::ticket(base, &state.mint_token(user, 600).unwrap()).await
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let (base, state) = serve(Config {
        rate_per_sec: 1,
        rate_burst: 3,
        ..Config::default()
    })
    .await;
    let token = state.mint_token("alice", 600).unwrap();
    let client = reqwest::Client::new();
    let mut codes = vec![];
    let mut retry_after = None;
    for _ in 0..5 {
        let res = client
            .post(format!("{base}/api/conversations/create"))
            .bearer_auth(&token)
            .json(&json!({"members": []}))
            .send()
            .await
            .unwrap();
        codes.push(res.status().as_u16());
        if res.status().as_u16() == 429 {
            retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["error"]["code"], "rate_limited");
        }
    }
    assert_eq!(codes[..3], [200, 200, 200]);
    assert_eq!(codes[3], 429);
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Another user has a bucket of its own.
    let bob = state.mint_token("bob", 600).unwrap();
    let res = client
        .post(format!("{base}/api/conversations/create"))
        .bearer_auth(&bob)
        .json(&json!({"members": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn streams_per_user_are_capped() {
    let (base, state) = serve(Config {
        max_streams_per_user: 2,
        ..Config::default()
    })
    .await;
    let mut open = vec![];
    for _ in 0..2 {
        let res = reqwest::get(format!(
            "{base}/api/events?ticket={}",
            ticket(&base, &state, "alice").await
        ))
        .await
        .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let mut ev = Box::pin(res.bytes_stream().eventsource());
        assert_eq!(ev.next().await.unwrap().unwrap().event, "hello");
        open.push(ev);
    }
    let res = reqwest::get(format!(
        "{base}/api/events?ticket={}",
        ticket(&base, &state, "alice").await
    ))
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(metric(&base, "pqcall_open_streams").await, 2.0);
    // Closing one frees a slot.
    drop(open.pop());
    let mut ok = false;
    for _ in 0..200 {
        let res = reqwest::get(format!(
            "{base}/api/events?ticket={}",
            ticket(&base, &state, "alice").await
        ))
        .await
        .unwrap();
        if res.status().as_u16() == 200 {
            ok = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(ok, "a slot frees when a stream closes");
}

#[tokio::test]
async fn a_stalled_reader_is_cut_off_and_resumes_without_loss() {
    let (base, state) = serve(Config {
        stream_queue: 16,
        replay_events: 20_000,
        max_log_bytes_per_user: 64 << 20,
        ..Config::default()
    })
    .await;
    let res = reqwest::get(format!(
        "{base}/api/events?ticket={}",
        ticket(&base, &state, "slow").await
    ))
    .await
    .unwrap();
    // Not read while the events pile up: socket buffers fill, then the queue.
    let total = 4000u64;
    common::publish_padded(&state, "slow", total, 4000).await;
    assert!(
        metric(&base, "pqcall_slow_consumer_ends_total").await >= 1.0,
        "the stalled stream was ended"
    );
    // The client reads what reached it, sees the end, and resumes from its last id.
    let mut ev = Box::pin(res.bytes_stream().eventsource());
    let hello = ev.next().await.unwrap().unwrap();
    let mut last = hello.id.clone();
    let mut next_n = 0u64;
    while let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::from_secs(10), ev.next()).await {
        let v: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(v["n"], next_n);
        next_n += 1;
        last = e.id;
    }
    assert!(next_n < total, "the stream ended before the end: cut off");
    let res = reqwest::get(format!(
        "{base}/api/events?ticket={}&last_event_id={last}",
        ticket(&base, &state, "slow").await
    ))
    .await
    .unwrap();
    let mut ev = Box::pin(res.bytes_stream().eventsource());
    assert_eq!(ev.next().await.unwrap().unwrap().event, "hello");
    while next_n < total {
        let e = ev.next().await.unwrap().unwrap();
        let v: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(v["n"], next_n, "resumed exactly where it stopped");
        next_n += 1;
    }
    assert!(metric(&base, "pqcall_replays_total").await >= 1.0);
}

#[tokio::test]
async fn server_publish_needs_the_server_key() {
    let (base, state) = serve(Config {
        server_key: Some("backend-key-123".into()),
        ..Config::default()
    })
    .await;
    let res = reqwest::get(format!(
        "{base}/api/events?ticket={}",
        ticket(&base, &state, "alice").await
    ))
    .await
    .unwrap();
    let mut ev = Box::pin(res.bytes_stream().eventsource());
    ev.next().await.unwrap().unwrap();
    let client = reqwest::Client::new();
    let body =
        json!({"users": ["alice", "bob", "alice"], "event": "app.invoice_paid", "data": {"id": 7}});
    for key in ["wrong", "backend-key-12", ""] {
        let res = client
            .post(format!("{base}/api/server/publish"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401, "key {key:?}");
    }
    // A user's token is not the server key.
    let res = client
        .post(format!("{base}/api/server/publish"))
        .bearer_auth(state.mint_token("alice", 60).unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = client
        .post(format!("{base}/api/server/publish"))
        .bearer_auth("backend-key-123")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["delivered_to"], 2);
    let e = ev.next().await.unwrap().unwrap();
    assert_eq!(
        (e.event.as_str(), e.data.as_str()),
        ("app.invoice_paid", r#"{"id":7}"#)
    );
    assert!(!e.id.is_empty(), "app events are logged, so they resume");
    let bad = json!({"users": ["alice"], "event": "call.offer", "data": {}});
    let res = client
        .post(format!("{base}/api/server/publish"))
        .bearer_auth("backend-key-123")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
}

#[tokio::test]
async fn metrics_and_health_answer() {
    let (base, _state) = serve(Config::default()).await;
    let h: Value = reqwest::get(format!("{base}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let text = metrics_text(&base).await;
    for name in [
        "pqcall_open_streams",
        "pqcall_events_delivered_total",
        "pqcall_replays_total",
        "pqcall_resets_total",
        "pqcall_slow_consumer_ends_total",
        "pqcall_calls",
        "pqcall_request_duration_seconds",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
    assert!(text.contains(r#"pqcall_calls{state="ringing"} 0"#));
    assert!(
        text.contains(r#"route="/healthz""#),
        "latency is recorded by route pattern"
    );
}

#[tokio::test]
async fn openapi_document_lists_every_endpoint_with_schemas() {
    let (base, _state) = serve(Config::default()).await;
    let doc: Value = reqwest::get(format!("{base}/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/auth/authenticate",
            "/api/calls/answer",
            "/api/calls/confirm",
            "/api/calls/decline",
            "/api/calls/end",
            "/api/calls/history",
            "/api/calls/ice",
            "/api/calls/offer",
            "/api/calls/update",
            "/api/conversations/create",
            "/api/conversations/join",
            "/api/conversations/list",
            "/api/dev/token",
            "/api/events",
            "/api/ice-servers",
            "/api/messages/load",
            "/api/messages/read",
            "/api/messages/send",
            "/api/openapi.json",
            "/api/presence/query",
            "/api/server/publish",
            "/api/typing/start",
            "/api/typing/stop",
            "/healthz",
            "/metrics",
        ]
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "OfferRequest",
        "OfferKemBody",
        "IceCandidate",
        "ErrorBody",
        "Message",
        "CallState",
        "ConversationsResponse",
        "ConversationSummary",
        "ReadRequest",
        "PresenceRequest",
        "PresenceResponse",
        "CallHistoryResponse",
        "CallHistoryEntry",
    ] {
        assert!(schemas.contains_key(s), "schema {s}");
    }
    assert_eq!(
        schemas["OfferRequest"]["required"],
        json!(["to", "sdp", "kem"])
    );
    // The stream's parameters are optional query parameters, not path parameters.
    let params = doc["paths"]["/api/events"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for name in ["ticket", "conn_id", "last_event_id"] {
        let p = params.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(p["in"], "query", "{name}");
        assert_ne!(p["required"], true, "{name}");
    }
}

#[tokio::test]
async fn request_ids_and_cors_for_configured_origins_only() {
    let (base, _state) = serve(Config {
        cors_origins: vec!["https://app.example".into()],
        ..Config::default()
    })
    .await;
    let client = reqwest::Client::new();
    // Every response carries a request id; one given by a proxy is kept.
    let res = client.get(format!("{base}/healthz")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let res = client
        .get(format!("{base}/healthz"))
        .header("x-request-id", "from-proxy-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "from-proxy-1");
    let res = client
        .post(format!("{base}/api/messages/send"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.headers().contains_key("x-request-id"), "errors too");
    // CORS: the configured origin may call, with the protocol's headers; others may not.
    let pre = |origin: &str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{base}/api/calls/offer"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-pqcall-conn",
            )
            .send()
    };
    let ok = pre("https://app.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("x-pqcall-conn") && allowed.contains("authorization"));
    let other = pre("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Without configured origins, no CORS headers at all.
    let (base2, _s) = serve(Config::default()).await;
    let res = client
        .get(format!("{base2}/healthz"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}
