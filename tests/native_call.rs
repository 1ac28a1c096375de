//! Two real webrtc-rs peers call each other through a real pqcall server: handshake,
//! trickle ICE, connected, a data channel message each way, matching codes, hang up.

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
}
