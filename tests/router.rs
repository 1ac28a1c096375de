//! The request pipeline in process, without sockets (`tower::ServiceExt::oneshot` on the
//! router): docs/PROTOCOL.md §1's order of checks, one failure at a time, and the router's
//! shape for embedding applications.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use pqcall::{AppState, Config, api_router, router};
use serde_json::{Value, json};
use tower::ServiceExt;

fn state(config: Config) -> AppState {
    AppState::new(config, b"a test secret of thirty-two bytes")
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(
    path: &str,
    token: Option<&str>,
    conn: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut req = Request::post(path).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(c) = conn {
        req = req.header("x-pqcall-conn", c);
    }
    req.body(body.into()).unwrap()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn each_check_fails_in_order_auth_size_shape_device_rate() {
    let config = Config {
        rate_per_sec: 1,
        rate_burst: 1,
        ..Config::default()
    };
    let s = state(config);
    let token = s.mint_token("alice", 60).unwrap();
    let app = api_router(s);
    let t = Some(token.as_str());
    let big = vec![b' '; 70 * 1024];

    // No token: 401, whatever else is wrong.
    let (st, v) = send(&app, post("/api/calls/ice", None, None, big.clone())).await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    // Too large: 413 before the body is looked at.
    let (st, v) = send(&app, post("/api/calls/ice", t, None, big)).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // Not JSON, then a missing field, then an invalid one: 400, with nothing decided.
    let (st, v) = send(&app, post("/api/calls/ice", t, None, "{")).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_json"));
    let (st, v) = send(&app, post("/api/calls/ice", t, None, "{}")).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "missing_field"));
    let id = "0123456789abcdef0123456789abcdef";
    let empty = json!({"call_id": id, "candidates": []}).to_string();
    let (st, v) = send(&app, post("/api/calls/ice", t, None, empty)).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_field"));
    // A valid body without the acting device's header: 400 missing_field, named.
    let ice = json!({"call_id": id, "candidates": [], "done": true}).to_string();
    let (st, v) = send(&app, post("/api/calls/ice", t, None, ice.clone())).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "missing_field"));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-Pqcall-Conn"),
        "{v}"
    );
    // Everything in order: the rate (one request, then 429), then the core (404).
    let (st, v) = send(&app, post("/api/calls/ice", t, Some("c1"), ice.clone())).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::NOT_FOUND, "unknown_call"),
        "{v}"
    );
    let (st, v) = send(&app, post("/api/calls/ice", t, Some("c1"), ice)).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
}

#[tokio::test]
async fn the_server_key_guards_publish_and_bodies_are_checked_once_it_passes() {
    let config = Config {
        server_key: Some("k3y-of-the-backend".into()),
        ..Config::default()
    };
    let app = api_router(state(config));
    let body = json!({"users": ["bob"], "event": "app.hi", "data": {}}).to_string();
    let (st, _) = send(
        &app,
        post("/api/server/publish", Some("wrong"), None, body.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let key = Some("k3y-of-the-backend");
    let (st, v) = send(&app, post("/api/server/publish", key, None, body)).await;
    assert_eq!((st, v["delivered_to"].as_u64()), (StatusCode::OK, Some(1)));
    let bad = json!({"users": ["bob"], "event": "not-app", "data": {}}).to_string();
    let (st, v) = send(&app, post("/api/server/publish", key, None, bad)).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "invalid_field"));
}

#[tokio::test]
async fn api_router_has_no_fallback_so_an_app_can_merge_it_beside_its_own() {
    let app = Router::new()
        .fallback(|| async { "the app's own page" })
        .merge(api_router(state(Config::default())));
    let res = app
        .clone()
        .oneshot(Request::get("/anything").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&text[..], b"the app's own page");
    let (st, v) = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!((st, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    // `router` adds the demo app as its fallback, for `pqcall serve`.
    let (st, _) = send(
        &router(state(Config::default())),
        Request::get("/no-such-file").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
