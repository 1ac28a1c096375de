//! HTTP and SSE helpers the integration tests share: a JSON POST, opening a user's
//! event stream with a single-use ticket, reading its next event, and reading a metric.
#![allow(dead_code)] // each test binary uses its own part

pub mod cluster;
pub mod redis_proxy;

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// An event stream as the tests read it.
pub type Events = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = Result<
                    eventsource_stream::Event,
                    eventsource_stream::EventStreamError<reqwest::Error>,
                >,
            > + Send,
    >,
>;

/// POSTs `body` with `token` (and `X-Pqcall-Conn: conn`): the status and the JSON
/// answer (`Null` when there is none).
pub async fn post(
    base: &str,
    token: &str,
    conn: Option<&str>,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body);
    if let Some(c) = conn {
        req = req.header("X-Pqcall-Conn", c);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A single-use SSE ticket for `token`'s user.
pub async fn ticket(base: &str, token: &str) -> String {
    let (status, t) = post(base, token, None, "/api/auth/authenticate", json!({})).await;
    assert_eq!(status, 200, "{t}");
    t["sse_ticket"].as_str().unwrap().to_owned()
}

/// Opens `token`'s user's event stream on `base` with a ticket; `query` adds
/// parameters (`&conn_id=…&last_event_id=…`). The caller reads `hello`.
pub async fn open(base: &str, token: &str, query: &str) -> Events {
    let url = format!(
        "{base}/api/events?ticket={}{query}",
        ticket(base, token).await
    );
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    Box::pin(res.bytes_stream().eventsource())
}

/// The next event, within 20 s.
pub async fn next(events: &mut Events) -> eventsource_stream::Event {
    tokio::time::timeout(Duration::from_secs(20), events.next())
        .await
        .expect("an event within 20 s")
        .expect("the stream is open")
        .unwrap()
}

/// Serves `state` on a free port of 127.0.0.1 until the test ends: the base URL.
pub async fn serve(state: pqcall::AppState) -> String {
    serve_until(state, std::future::pending()).await.0
}

/// Serves `state` on a free port of 127.0.0.1 until `stop` completes: the base URL
/// and the server's task.
pub async fn serve_until(
    state: pqcall::AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    pqcall::serve_loopback(state, stop).await.unwrap()
}

/// `base`'s `/metrics` page.
pub async fn metrics_text(base: &str) -> String {
    let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
    res.text().await.unwrap()
}

/// The value of the sample `name` (with its labels, if any) on `base`'s `/metrics`.
pub async fn metric(base: &str, name: &str) -> f64 {
    let text = metrics_text(base).await;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
}

/// Publishes `count` events `app.n` `{"n": i, "pad": <pad bytes>}` to `user`, in order.
pub async fn publish_padded(state: &pqcall::AppState, user: &str, count: u64, pad: usize) {
    let pad = "x".repeat(pad);
    for n in 0..count {
        let data = json!({"n": n, "pad": pad});
        pqcall::publish_app_event(state, vec![user.into()], "app.n", data)
            .await
            .unwrap();
    }
}

/// An offer to `to` with a real ML-KEM-768 key and `sdp`.
pub fn offer_to(to: &str, sdp: &str) -> pqcall_signaling::api::OfferRequest {
    let (_, kem) = pqcall_crypto::Caller::start().unwrap();
    pqcall_signaling::api::OfferRequest {
        to: to.into(),
        sdp: sdp.into(),
        kem: pqcall_signaling::api::OfferKemBody {
            suite: "ML-KEM-768".into(),
            ek: kem.ek_b64(),
            commit: kem.commit_b64(),
        },
    }
}
