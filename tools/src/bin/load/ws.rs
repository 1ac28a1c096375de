//! `load ws-relay`: the same relay over a WebSocket server, for comparison.

use anyhow::Context;
use futures_util::StreamExt;
use pqcall_tools::server::start_server_cmd;
use serde_json::{Value, json};
use std::time::Instant;
use tokio::process::Command;

use super::*;

/// A minimal WebSocket relay written for the comparison: `/ws?user=X`; a text frame
/// `{"to": user, ...}` is forwarded as is to every socket of `to`.
pub(crate) async fn ws_server() -> anyhow::Result<()> {
    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use axum::extract::{Query, State};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    type Peers = Arc<Mutex<HashMap<String, Vec<tokio::sync::mpsc::UnboundedSender<Message>>>>>;
    pub(crate) async fn socket(ws: WebSocket, user: String, peers: Peers) {
        let (mut tx, mut rx) = ws.split();
        let (out, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut p) = peers.lock() {
            p.entry(user).or_default().push(out);
        }
        tokio::spawn(async move {
            use futures_util::SinkExt;
            while let Some(m) = out_rx.recv().await {
                if tx.send(m).await.is_err() {
                    break;
                }
            }
        });
        while let Some(Ok(Message::Text(t))) = rx.next().await {
            let to = serde_json::from_str::<Value>(&t)
                .ok()
                .and_then(|v| v["to"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if let Ok(p) = peers.lock() {
                for s in p.get(&to).into_iter().flatten() {
                    let _ = s.send(Message::Text(t.clone()));
                }
            }
        }
    }
    let peers: Peers = Arc::default();
    let app = axum::Router::new()
        .route(
            "/ws",
            axum::routing::get(
                |ws: WebSocketUpgrade,
                 Query(q): Query<HashMap<String, String>>,
                 State(p): State<Peers>| async move {
                    let user = q.get("user").cloned().unwrap_or_default();
                    ws.on_upgrade(move |s| socket(s, user, p))
                },
            ),
        )
        .with_state(peers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("ws relay listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

pub(crate) async fn ws_relay(count: usize) -> anyhow::Result<()> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let exe = std::env::current_exe()?;
    let server = start_server_cmd(Command::new(exe).arg("ws-server")).await?;
    let ws = |user: &str| format!("ws://{}/ws?user={user}", server.addr);
    let (mut alice, _) = tokio_tungstenite::connect_async(ws("alice")).await?;
    let (mut bob, _) = tokio_tungstenite::connect_async(ws("bob")).await?;
    let (_, kem) = pqcall_crypto::Caller::start()?;
    let offer = json!({"to": "bob", "sdp": "a=x".repeat(3400 / 3), "kem": {"suite": "ML-KEM-768", "ek": kem.ek_b64(), "commit": kem.commit_b64()}}).to_string();
    let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
    let mut samples = Vec::with_capacity(count);
    let warmup = count / 10;
    let mut c0 = proc_usage(server.pid)?.0;
    for i in 0..warmup + count {
        if i == warmup {
            c0 = proc_usage(server.pid)?.0;
        }
        let start = Instant::now();
        alice.send(Message::text(offer.clone())).await?;
        loop {
            match bob.next().await.context("ws closed")?? {
                Message::Text(_) => break,
                _ => continue,
            }
        }
        if i >= warmup {
            hist.record(start.elapsed().as_micros() as u64)?;
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    let ticks = proc_usage(server.pid)?.0 - c0;
    println!(
        "WebSocket relay of {count} offers (same 5.1 KB message), send -> receive, one way, µs:"
    );
    print_latency(&hist);
    println!(
        "  server CPU per relayed message: {:.1} µs",
        (ticks * 10_000) as f64 / count as f64
    );
    save_csv("axum WebSocket", &samples)?;
    Ok(())
}
