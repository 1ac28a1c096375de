//! At `info`, the service logs no token, ticket, SDP, key material or client address:
//! a capturing tracing layer records a whole call and a chat, then the log is searched.

use std::io::Write;
use std::sync::{Arc, Mutex};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use pqcall::{AppState, Config};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn info_logs_hold_no_secrets_sdp_or_addresses() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let state = AppState::new(Config::default(), b"logs-test-secret-0123456789abcdef012");
    let (base, _server) = pqcall::serve_loopback(state.clone(), std::future::pending())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let (alice, bob) = (
        state.mint_token("alice", 600).unwrap(),
        state.mint_token("bob", 600).unwrap(),
    );
    let mut tickets = vec![];
    let mut open = async |token: &str| {
        let t: Value = http
            .post(format!("{base}/api/auth/authenticate"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ticket = t["sse_ticket"].as_str().unwrap().to_owned();
        tickets.push(ticket.clone());
        let mut ev = Box::pin(
            http.get(format!("{base}/api/events?ticket={ticket}"))
                .send()
                .await
                .unwrap()
                .bytes_stream()
                .eventsource(),
        );
        let hello: Value = serde_json::from_str(&ev.next().await.unwrap().unwrap().data).unwrap();
        (ev, hello["conn_id"].as_str().unwrap().to_owned())
    };
    let (_a, a_conn) = open(&alice).await;
    let (mut b, b_conn) = open(&bob).await;
    let (_, kem) = pqcall_crypto::Caller::start().unwrap();
    let sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 203.0.113.77\r\na=fingerprint:sha-256 AB:CD:EF\r\na=candidate:1 1 udp 2122260223 198.51.100.23 50000 typ host\r\n";
    let r: Value = http
        .post(format!("{base}/api/calls/offer"))
        .bearer_auth(&alice)
        .header("X-Pqcall-Conn", &a_conn)
        .json(&json!({"to": "bob", "sdp": sdp, "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event, "call.offer");
    let ct = pqcall_crypto::wire::encode(&[9; 1088]);
    let res = http
        .post(format!("{base}/api/calls/answer"))
        .bearer_auth(&bob)
        .header("X-Pqcall-Conn", &b_conn)
        .json(&json!({"call_id": r["call_id"], "sdp": sdp, "kem": {"ct": ct}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // A refused request too (errors are where secrets tend to leak).
    let res = http
        .post(format!("{base}/api/messages/send"))
        .bearer_auth(format!("{alice}x"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("stream opened"), "the capture works:\n{logs}");
    let mut forbidden: Vec<String> = vec![
        alice.clone(),
        bob.clone(),
        kem.ek_b64()[..40].to_owned(),
        ct[..40].to_owned(),
    ];
    forbidden.extend(tickets);
    forbidden.extend(
        [
            "127.0.0.1",
            "203.0.113.77",
            "198.51.100.23",
            "AB:CD:EF",
            "a=candidate",
            "v=0",
        ]
        .map(String::from),
    );
    // Token parts: the signature alone must not appear either.
    forbidden.push(alice.rsplit('.').next().unwrap().to_owned());
    for f in forbidden {
        assert!(!logs.contains(&f), "the info log contains {f:?}:\n{logs}");
    }
}
