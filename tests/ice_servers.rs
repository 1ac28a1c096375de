//! `GET /api/ice-servers` (docs/PROTOCOL.md §8): STUN as configured, TURN with REST
//! credentials coturn's `use-auth-secret` accepts, and the secret nowhere else.

mod common;

use base64::Engine as _;
use hmac::Mac as _;
use pqcall::{AppState, Config};
use serde_json::Value;

const SECRET: &[u8] = b"ice-servers-secret-0123456789abcdef0";
const TURN_SECRET: &str = "turn-shared-secret-do-not-log";

async fn get(base: &str, token: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .get(format!("{base}/api/ice-servers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn without_servers_the_list_is_empty() {
    let state = AppState::new(Config::default(), SECRET);
    let base = common::serve(state.clone()).await;
    let (st, body) = get(&base, &state.mint_token("alice", 600).unwrap()).await;
    assert_eq!(st, 200);
    assert_eq!(body["ice_servers"], serde_json::json!([]));
}

#[tokio::test]
async fn turn_credentials_are_hmac_sha1_of_expiry_and_user_and_the_secret_stays_inside() {
    let config = Config {
        stun_urls: vec!["stun:127.0.0.1:3478".into()],
        turn_urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
        turn_secret: Some(TURN_SECRET.into()),
        turn_ttl_secs: 3600,
        ..Config::default()
    };
    assert!(
        !format!("{config:?}").contains(TURN_SECRET),
        "Debug hides the secret"
    );
    let state = AppState::new(config, SECRET);
    let base = common::serve(state.clone()).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (st, body) = get(&base, &state.mint_token("alice", 600).unwrap()).await;
    assert_eq!(st, 200, "{body}");
    let servers = body["ice_servers"].as_array().unwrap();
    assert_eq!(servers[0]["urls"][0], "stun:127.0.0.1:3478");
    assert!(servers[0].get("username").is_none());
    let turn = &servers[1];
    assert_eq!(turn["urls"][0], "turn:127.0.0.1:3478?transport=udp");
    let expires_at = body["expires_at"].as_u64().unwrap();
    assert!((now + 3600..=now + 3602).contains(&expires_at));
    let username = turn["username"].as_str().unwrap();
    assert_eq!(username, format!("{expires_at}:alice"));
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(TURN_SECRET.as_bytes()).unwrap();
    mac.update(username.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(turn["credential"], want.as_str());
    // Nowhere else: not in the metrics, not in the API document.
    let metrics = common::metrics_text(&base).await;
    assert!(!metrics.contains(TURN_SECRET));
    let doc = reqwest::get(format!("{base}/api/openapi.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!doc.contains(TURN_SECRET));
}

#[tokio::test]
async fn a_turn_url_without_a_secret_does_not_start() {
    let config = Config {
        turn_urls: vec!["turn:127.0.0.1:3478".into()],
        jwt_secret: Some("x".repeat(32).into()),
        ..Config::default()
    };
    let err = AppState::from_config(config).await.unwrap_err();
    assert!(err.to_string().contains("--turn-secret"), "{err}");
}
