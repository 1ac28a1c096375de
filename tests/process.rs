//! The `pqcall` binary as a process: kill -9 durability of chat history, restart on
//! the same SQLite file, SIGTERM with open streams, one worker thread (`--workers`), and
//! the `token` command.

mod common;

use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SECRET: &str = "process-test-secret-0123456789abcdef";

struct Proc {
    child: Child,
    base: String,
}

async fn spawn(db: &std::path::Path) -> Proc {
    spawn_with(db, &[]).await
}

async fn spawn_with(db: &std::path::Path, flags: &[&str]) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pqcall"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--jwt-secret",
            SECRET,
            "--database",
        ])
        .arg(db)
        .args(flags)
        .env("PQCALL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line.rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    Proc { child, base }
}

async fn token(user: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pqcall"))
        .args(["token", "--user", user, "--jwt-secret", SECRET])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn post(base: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
    common::post(base, token, None, path, body).await
}

/// A new conversation of `token`'s user with bob.
async fn conversation_with_bob(base: &str, token: &str) -> String {
    let body = json!({"members": ["bob"]});
    let (_, r) = post(base, token, "/api/conversations/create", body).await;
    r["conversation_id"].as_str().unwrap().to_owned()
}

/// `user`'s event stream, after `last` when given.
async fn open_stream(base: &str, user: &str, last: Option<&str>) -> common::Events {
    let query = last
        .map(|l| format!("&last_event_id={l}"))
        .unwrap_or_default();
    common::open(base, &token(user).await, &query).await
}

#[tokio::test]
async fn every_acknowledged_send_survives_kill_9_and_old_ids_reset() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let alice = token("alice").await;
    let mut p = spawn(&db).await;
    let conv = conversation_with_bob(&p.base, &alice).await;

    // Bob's stream position before the crash.
    let mut events = open_stream(&p.base, "bob", None).await;
    let old_id = events.next().await.unwrap().unwrap().id;
    drop(events);

    // Four concurrent senders; the kill comes once the first sends are acknowledged.
    let (first_tx, mut first_rx) = tokio::sync::mpsc::channel::<()>(16);
    let mut tasks = vec![];
    for t in 0..4 {
        let (base, tok, conv, first) = (
            p.base.clone(),
            alice.clone(),
            conv.clone(),
            first_tx.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ok = vec![];
            for i in 0..200 {
                let key = format!("t{t}-{i}");
                let res = reqwest::Client::new()
                    .post(format!("{base}/api/messages/send"))
                    .bearer_auth(&tok)
                    .json(&json!({"conversation_id": conv, "body": key, "client_msg_id": key}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().as_u16() == 200 => {
                        ok.push(key);
                        if i == 10 {
                            let _ = first.try_send(());
                        }
                    }
                    _ => break,
                }
            }
            ok
        }));
    }
    drop(first_tx);
    first_rx
        .recv()
        .await
        .expect("a sender got ten acknowledgements");
    p.child.start_kill().unwrap();
    p.child.wait().await.unwrap();
    let mut acked = vec![];
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert!(acked.len() > 10);

    let p = spawn(&db).await;
    let mut have = vec![];
    let mut before: Option<String> = None;
    loop {
        let mut body = json!({"conversation_id": conv, "limit": 100});
        if let Some(b) = &before {
            body["before"] = json!(b);
        }
        let (s, page) = post(&p.base, &alice, "/api/messages/load", body).await;
        assert_eq!(s, 200);
        let msgs = page["messages"].as_array().unwrap();
        have.extend(msgs.iter().map(|m| m["body"].as_str().unwrap().to_owned()));
        if page["has_more"] != true {
            break;
        }
        before = Some(msgs[0]["id"].as_str().unwrap().to_owned());
    }
    for key in &acked {
        assert!(have.contains(key), "acknowledged send {key} was lost");
    }
    // The memory event log started a new epoch: the old id gets a reset.
    let mut events = open_stream(&p.base, "bob", Some(&old_id)).await;
    assert_eq!(events.next().await.unwrap().unwrap().event, "hello");
    let reset = events.next().await.unwrap().unwrap();
    assert_eq!(reset.event, "reset");
    assert!(reset.data.contains("stale_epoch"), "{}", reset.data);
}

#[tokio::test]
async fn one_worker_thread_relays_and_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_with(&dir.path().join("chat.db"), &["--workers", "1"]).await;
    let alice = token("alice").await;
    let conv = conversation_with_bob(&p.base, &alice).await;
    let mut bob = open_stream(&p.base, "bob", None).await;
    assert_eq!(common::next(&mut bob).await.event, "hello");
    let send = json!({"conversation_id": conv, "body": "one thread", "client_msg_id": "w1"});
    assert_eq!(
        post(&p.base, &alice, "/api/messages/send", send).await.0,
        200
    );
    let relayed = loop {
        let ev = common::next(&mut bob).await;
        if ev.event == "message.new" {
            break ev.data;
        }
    };
    assert!(relayed.contains("one thread"), "{relayed}");
    assert_eq!(common::metric(&p.base, "pqcall_runtime_workers").await, 1.0);

    let refused = Command::new(env!("CARGO_BIN_EXE_pqcall"))
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "0"])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), refused)
        .await
        .expect("refused at once, not served")
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value '0' for '--workers"), "{err}");
}

#[tokio::test]
async fn sigterm_ends_open_streams_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(&dir.path().join("chat.db")).await;
    let mut streams = vec![];
    for _ in 0..3 {
        let mut ev = open_stream(&p.base, "carol", None).await;
        assert_eq!(ev.next().await.unwrap().unwrap().event, "hello");
        streams.push(ev);
    }
    let pid = p.child.id().unwrap();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(5), p.child.wait())
        .await
        .expect("exits within 5 s")
        .unwrap();
    assert!(status.success(), "{status:?}");
    for mut ev in streams {
        let end = tokio::time::timeout(Duration::from_secs(5), ev.next())
            .await
            .expect("the stream ends");
        assert!(end.is_none_or(|e| e.is_err()));
    }
}

/// The server's resident memory, from `/proc/<pid>/status`, in MiB.
fn rss_mib(p: &Proc) -> f64 {
    let pid = p.child.id().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// One account floods made-up users (a conversation with 255 invented members, 16 KiB
/// messages as fast as it can) for `PQCALL_FLOOD_SECS` (5 by default; HARDENING.md has a
/// 60 s run), then holds 15 resumed streams that never read on a user with a full
/// replay window: the server's memory stays within a stated bound throughout.
#[tokio::test]
async fn memory_stays_bounded_under_a_flood_of_made_up_recipients() {
    let secs: u64 = std::env::var("PQCALL_FLOOD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let rate = [
        "--rate-per-sec",
        "100000",
        "--rate-burst",
        "100000",
        "--ip-rate-per-sec",
        "100000",
        "--ip-rate-burst",
        "100000",
    ];
    let p = spawn_with(&dir.path().join("chat.db"), &rate).await;
    let (mallory, victim) = (token("mallory").await, token("victim").await);
    let ghosts: Vec<String> = (0..255).map(|i| format!("ghost-{i}")).collect();
    let (_, conv) = post(
        &p.base,
        &mallory,
        "/api/conversations/create",
        json!({"members": ghosts}),
    )
    .await;
    let ghost_room = conv["conversation_id"].as_str().unwrap().to_owned();
    let before = rss_mib(&p);
    let body = "x".repeat(16 * 1024);
    let (mut sent, mut refused) = (0u64, 0u64);
    let until = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < until {
        let send = json!({"conversation_id": ghost_room, "body": body, "client_msg_id": format!("m{sent}-{refused}")});
        match post(&p.base, &mallory, "/api/messages/send", send).await.0 {
            200 => sent += 1,
            _ => refused += 1,
        }
    }
    let flooded = rss_mib(&p);
    eprintln!(
        "flood: {sent} sends accepted, {refused} refused; RSS {before:.0} -> {flooded:.0} MiB"
    );
    // Before the fix each accepted send kept 255 copies: 4 MiB per send.
    assert!(sent > 20, "the flood ran ({sent} sends)");
    assert!(
        flooded - before < 64.0,
        "RSS grew {:.0} MiB",
        flooded - before
    );

    // A user with a full replay window, and 15 streams resumed from its start that
    // never read: each replay is at most the user's log budget (4 MiB).
    let mut live = open_stream(&p.base, "victim", None).await;
    common::next(&mut live).await; // hello
    let (_, room) = post(
        &p.base,
        &victim,
        "/api/conversations/create",
        json!({"members": []}),
    )
    .await;
    let room = room["conversation_id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for i in 0..600 {
        let send = json!({"conversation_id": room, "body": body, "client_msg_id": format!("v{i}")});
        let (st, _) = post(&p.base, &victim, "/api/messages/send", send).await;
        assert_eq!(st, 200);
        ids.push(common::next(&mut live).await.id);
    }
    // The window holds the newest ~250 (4 MiB): resume from inside it.
    let from = &ids[600 - 230];
    let full = rss_mib(&p);
    let addr = p.base.trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for _ in 0..15 {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let req = format!(
            "GET /api/events?last_event_id={from} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {victim}\r\n\r\n",
        );
        tokio::io::AsyncWriteExt::write_all(&mut tcp, req.as_bytes())
            .await
            .unwrap();
        stalled.push(tcp);
    }
    // Wait until the server holds them all.
    let held = async {
        while common::metric(&p.base, "pqcall_open_streams").await < 16.0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), held)
        .await
        .unwrap();
    let resumed = rss_mib(&p);
    eprintln!("15 stalled resumes: RSS {full:.0} -> {resumed:.0} MiB");
    assert!(common::metric(&p.base, "pqcall_replays_total").await >= 15.0);
    assert!(resumed - full < 96.0, "RSS grew {:.0} MiB", resumed - full);
    drop(stalled);
}
