//! Two real webrtc-rs peers call each other through a real pqcall server: handshake,
//! trickle ICE, connected, a data channel message each way, matching codes, hang up; the
//! audio and the data channel are end-to-end encrypted with the handshake's keys (§7).

use pqcall::{AppState, Config};

#[path = "../examples/common/native.rs"]
mod native;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_webrtc_peers_complete_a_call() {
    native::set_quiet();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(Config::default(), b"native-call-test-secret-0123456789ab");
    tokio::spawn(pqcall::run(listener, state.clone(), std::future::pending()));
    let t = native::call_once(
        &base,
        state.mint_token("alice", 600).unwrap(),
        state.mint_token("bob", 600).unwrap(),
        native::runtime(true).unwrap(),
        true,
    )
    .await
    .unwrap();
    let (a, b) = t.codes.expect("the handshake ran");
    assert_eq!(a, b, "both sides derive the same safety code");
    assert_eq!(
        t.messages,
        ("hello from bob".to_owned(), "hello from alice".to_owned())
    );
    assert!(t.connected <= t.channel_open);
    // Every frame each side received after its keys decrypted; each heard the other.
    for (side, c) in [("alice", t.e2ee.0), ("bob", t.e2ee.1)] {
        assert!(c.received >= 10, "{side}: {c:?}");
        assert_eq!(c.dropped, 0, "{side}: {c:?}");
        assert_eq!(c.messages, 1, "{side}: {c:?}");
        assert!(c.sent > 0, "{side}: {c:?}");
    }
}
