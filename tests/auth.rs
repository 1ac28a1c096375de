//! The auth matrix (docs/PROTOCOL.md §2) over every endpoint, on a real socket.

mod common;

use common::serve;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use pqcall::{AppState, Auth, Config, MemoryStore};
use serde_json::{Value, json};
use std::sync::Arc;

const SECRET: &[u8] = b"auth-matrix-secret-0123456789abcdef";
const RSA_PRIVATE: &[u8] = include_bytes!("fixtures/rsa-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("fixtures/rsa-public.pem");
const ED_PRIVATE: &[u8] = include_bytes!("fixtures/ed25519-private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("fixtures/ed25519-public.pem");

/// Every POST endpoint that takes a user's token, with a body of the right shape.
fn endpoints() -> Vec<(&'static str, Value)> {
    let id = "0123456789abcdef0123456789abcdef";
    let b = |n: usize| pqcall_crypto::wire::encode(&vec![1u8; n]);
    vec![
        ("/api/auth/authenticate", json!({})),
        ("/api/conversations/create", json!({"members": ["bob"]})),
        ("/api/conversations/join", json!({"conversation_id": id})),
        (
            "/api/messages/send",
            json!({"conversation_id": id, "body": "x", "client_msg_id": "c"}),
        ),
        ("/api/messages/load", json!({"conversation_id": id})),
        ("/api/typing/start", json!({"conversation_id": id})),
        ("/api/typing/stop", json!({"conversation_id": id})),
        (
            "/api/calls/offer",
            json!({"to": "bob", "sdp": "v=0", "kem": {"suite": "ML-KEM-768", "ek": b(1184), "commit": b(32)}}),
        ),
        (
            "/api/calls/answer",
            json!({"call_id": id, "sdp": "v=0", "kem": {"ct": b(1088)}}),
        ),
        (
            "/api/calls/confirm",
            json!({"call_id": id, "kem": {"nonce": b(32), "tag": b(32)}}),
        ),
        (
            "/api/calls/ice",
            json!({"call_id": id, "candidates": [], "done": true}),
        ),
        (
            "/api/calls/update",
            json!({"call_id": id, "sdp": "v=0", "kind": "offer"}),
        ),
        ("/api/calls/decline", json!({"call_id": id})),
        ("/api/calls/end", json!({"call_id": id})),
    ]
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs(secret: &[u8], sub: &str, exp: u64) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": sub, "exp": exp}),
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn rs(sub: &str) -> String {
    encode(
        &Header::new(Algorithm::RS256),
        &json!({"sub": sub, "exp": now() + 600}),
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
    )
    .unwrap()
}

fn ed(sub: &str) -> String {
    encode(
        &Header::new(Algorithm::EdDSA),
        &json!({"sub": sub, "exp": now() + 600}),
        &EncodingKey::from_ed_pem(ED_PRIVATE).unwrap(),
    )
    .unwrap()
}

fn b64url(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

async fn status(base: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// Every kind of bad user token, named: each must get 401 `unauthorized`.
fn bad_tokens() -> Vec<(&'static str, Option<String>)> {
    let header_none = b64url(&json!({"alg": "none", "typ": "JWT"}));
    let claims = b64url(&json!({"sub": "alice", "exp": now() + 600}));
    vec![
        ("no token", None),
        ("garbage", Some("not.a.jwt".into())),
        ("expired", Some(hs(SECRET, "alice", now() - 3600))),
        (
            "bad signature",
            Some(hs(
                b"another-secret-0123456789abcdefgh",
                "alice",
                now() + 600,
            )),
        ),
        ("alg none", Some(format!("{header_none}.{claims}."))),
        ("RS256 to an HS256 server", Some(rs("alice"))),
        ("EdDSA to an HS256 server", Some(ed("alice"))),
        (
            "no exp",
            Some(
                encode(
                    &Header::new(Algorithm::HS256),
                    &json!({"sub": "alice"}),
                    &EncodingKey::from_secret(SECRET),
                )
                .unwrap(),
            ),
        ),
        ("empty sub", Some(hs(SECRET, "", now() + 600))),
        (
            "not valid yet (nbf)",
            Some(signed(
                &json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 300}),
            )),
        ),
        (
            "valid for longer than the server allows",
            Some(hs(SECRET, "alice", now() + 30 * 86_400)),
        ),
        (
            "an audience the server was not told",
            Some(signed(
                &json!({"sub": "alice", "exp": now() + 600, "aud": "another-service"}),
            )),
        ),
        ("a critical header extension", Some(with_crit("alice"))),
    ]
}

/// HS256 over any claims.
fn signed(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

/// A correctly signed token whose header names a critical extension (RFC 7515 §4.1.11).
fn with_crit(sub: &str) -> String {
    let header = b64url(&json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"], "exp": 1}));
    let claims = b64url(&json!({"sub": sub, "exp": now() + 600}));
    let input = format!("{header}.{claims}");
    let key = EncodingKey::from_secret(SECRET);
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{input}.{sig}")
}

#[tokio::test]
async fn a_configured_audience_and_issuer_are_required() {
    let config = Config {
        jwt_audience: Some("pqcall-test".into()),
        jwt_issuer: Some("https://idp.example".into()),
        ..Config::default()
    };
    let state = AppState::new(config, SECRET);
    let base = serve(state.clone()).await;
    let exp = now() + 600;
    let (aud, iss) = ("pqcall-test", "https://idp.example");
    let cases = [
        (
            json!({"sub": "alice", "exp": exp, "aud": aud, "iss": iss}),
            200,
        ),
        (
            json!({"sub": "alice", "exp": exp, "aud": [aud, "x"], "iss": iss}),
            200,
        ),
        (json!({"sub": "alice", "exp": exp, "iss": iss}), 401),
        (json!({"sub": "alice", "exp": exp, "aud": aud}), 401),
        (
            json!({"sub": "alice", "exp": exp, "aud": "other", "iss": iss}),
            401,
        ),
        (
            json!({"sub": "alice", "exp": exp, "aud": aud, "iss": "https://evil.example"}),
            401,
        ),
    ];
    for (claims, want) in cases {
        let (got, body) = status(
            &base,
            "/api/auth/authenticate",
            Some(&signed(&claims)),
            &json!({}),
        )
        .await;
        assert_eq!(got, want, "{claims} -> {body}");
    }
    // Tokens this server mints name both.
    let minted = state.mint_token("alice", 600).unwrap();
    let (got, _) = status(&base, "/api/auth/authenticate", Some(&minted), &json!({})).await;
    assert_eq!(got, 200);
}

#[tokio::test]
async fn every_endpoint_refuses_every_bad_token() {
    let base = serve(AppState::new(Config::default(), SECRET)).await;
    let bad = bad_tokens();
    for (path, body) in endpoints() {
        for (what, token) in &bad {
            let (s, v) = status(&base, path, token.as_deref(), &body).await;
            assert_eq!(s, 401, "{path} with {what}: {v}");
            assert_eq!(v["error"]["code"], "unauthorized", "{path} with {what}");
        }
        // And the good token passes auth (whatever comes next).
        let (s, _) = status(&base, path, Some(&hs(SECRET, "alice", now() + 600)), &body).await;
        assert_ne!(s, 401, "{path} with a good token");
    }
    // The event stream: no token, bad ticket.
    let res = reqwest::get(format!("{base}/api/events")).await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = reqwest::get(format!("{base}/api/events?ticket=deadbeef"))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    // Development routes do not exist without --dev.
    let (s, _) = status(&base, "/api/dev/token", None, &json!({"user": "x"})).await;
    assert!(s == 404 || s == 405, "{s}");
}

/// The matrix generated from the router's own route table (`pqcall::routes()`): every
/// route, by its access rule, refuses every bad credential with 401, and the OpenAPI
/// document lists exactly the routes of the table. A route added to the service is in
/// this test without anyone editing it.
#[tokio::test]
async fn the_route_table_is_the_auth_matrix() {
    use pqcall::Access;
    let config = Config {
        server_key: Some("the-server-key-0123456789".into()),
        ..Config::default()
    };
    let base = serve(AppState::new(config, SECRET)).await;
    let mut bad_tokens = bad_tokens();
    bad_tokens.push((
        "the server key as a user token",
        Some("the-server-key-0123456789".into()),
    ));
    let http = reqwest::Client::new();
    let send = |method: &str, path: &str, token: Option<&str>| {
        let mut req = match method {
            "GET" => http.get(format!("{base}{path}")),
            _ => http.post(format!("{base}{path}")).json(&json!({})),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let routes = pqcall::routes();
    assert!(routes.len() >= 18, "the table lists every route");
    for r in &routes {
        match r.access {
            Access::User | Access::Stream => {
                for (what, token) in &bad_tokens {
                    let res = send(&r.method, &r.path, token.as_deref()).await.unwrap();
                    assert_eq!(
                        res.status().as_u16(),
                        401,
                        "{} {} with {what}",
                        r.method,
                        r.path
                    );
                    let v: Value = res.json().await.unwrap();
                    assert_eq!(v["error"]["code"], "unauthorized", "{}", r.path);
                }
                if r.access == Access::Stream {
                    for t in ["deadbeef", "", "0123456789abcdef0123456789abcdef"] {
                        let res = send(&r.method, &format!("{}?ticket={t}", r.path), None)
                            .await
                            .unwrap();
                        assert_eq!(res.status().as_u16(), 401, "{} with ticket {t:?}", r.path);
                    }
                }
            }
            Access::ServerKey => {
                let user = hs(SECRET, "alice", now() + 600);
                for key in [
                    None,
                    Some("wrong"),
                    Some(user.as_str()),
                    Some("the-server-key-012345678"),
                ] {
                    let res = send(&r.method, &r.path, key).await.unwrap();
                    assert_eq!(res.status().as_u16(), 401, "{} with {key:?}", r.path);
                }
                let res = send(&r.method, &r.path, Some("the-server-key-0123456789"))
                    .await
                    .unwrap();
                assert_ne!(res.status().as_u16(), 401, "{} with the key", r.path);
            }
            Access::Public => {
                let res = send(&r.method, &r.path, None).await.unwrap();
                assert_eq!(res.status().as_u16(), 200, "{} is public", r.path);
            }
            Access::Dev => {
                // Not routed without --dev: the static fallback answers 404/405.
                let res = send(&r.method, &r.path, None).await.unwrap();
                let s = res.status().as_u16();
                assert!(s == 404 || s == 405, "{} exists without --dev: {s}", r.path);
            }
        }
    }
    // The API document and the table name the same routes.
    let doc: Value = reqwest::get(format!("{base}/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    documented.sort();
    // Every route is documented, `/metrics` and the document itself included.
    let mut table: Vec<String> = routes
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    table.sort();
    assert_eq!(documented, table);
}

#[tokio::test]
async fn rs256_and_eddsa_servers_accept_only_their_algorithm() {
    let rsa = Auth::public_key("RS256", RSA_PUBLIC).unwrap();
    let base = serve(AppState::build(
        Config::default(),
        rsa,
        Arc::new(MemoryStore::default()),
    ))
    .await;
    let (s, v) = status(
        &base,
        "/api/auth/authenticate",
        Some(&rs("alice")),
        &json!({}),
    )
    .await;
    assert_eq!((s, v["user_id"].as_str()), (200, Some("alice")));
    // HS/RS confusion: an HS256 token keyed with the public key's bytes.
    let confused = hs(RSA_PUBLIC, "alice", now() + 600);
    assert_eq!(
        status(&base, "/api/auth/authenticate", Some(&confused), &json!({}))
            .await
            .0,
        401
    );
    assert_eq!(
        status(
            &base,
            "/api/auth/authenticate",
            Some(&ed("alice")),
            &json!({})
        )
        .await
        .0,
        401
    );

    let eddsa = Auth::public_key("EdDSA", ED_PUBLIC).unwrap();
    let base = serve(AppState::build(
        Config::default(),
        eddsa,
        Arc::new(MemoryStore::default()),
    ))
    .await;
    assert_eq!(
        status(
            &base,
            "/api/auth/authenticate",
            Some(&ed("bob")),
            &json!({})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        status(
            &base,
            "/api/auth/authenticate",
            Some(&rs("bob")),
            &json!({})
        )
        .await
        .0,
        401
    );
    assert!(Auth::public_key("HS512", RSA_PUBLIC).is_err());
    assert!(Auth::public_key("ES256", b"not a key").is_err());
}

const TOKEN_EXP: u64 = 1_700_003_600;

#[test]
fn tickets_are_single_use_bound_to_the_user_and_expire() {
    let auth = Auth::hs256(SECRET);
    let t0 = 1_700_000_000_000;
    let (t, expires) = auth.issue_ticket("alice", TOKEN_EXP, t0);
    assert_eq!(expires, (t0 + 60_000) / 1000);
    // The ticket names its user and when the token it was bought with expires.
    assert_eq!(
        auth.redeem_ticket(&t, t0 + 1).unwrap(),
        ("alice".to_owned(), TOKEN_EXP)
    );
    assert_eq!(
        auth.redeem_ticket(&t, t0 + 2).unwrap_err().code(),
        "unauthorized"
    );
    let (t, _) = auth.issue_ticket("alice", TOKEN_EXP, t0);
    assert_eq!(
        auth.redeem_ticket(&t, t0 + 60_001).unwrap_err().code(),
        "unauthorized"
    );
}

#[test]
fn a_configured_ticket_lifetime_is_honoured_up_to_60_seconds() {
    let t0 = 1_700_000_000_000;
    let short = Auth::hs256(SECRET).with_ticket_ttl(1_000);
    let (t, expires) = short.issue_ticket("alice", TOKEN_EXP, t0);
    assert_eq!(expires, (t0 + 1_000) / 1000);
    assert_eq!(
        short.redeem_ticket(&t, t0 + 1_001).unwrap_err().code(),
        "unauthorized"
    );
    // docs/PROTOCOL.md §2: never longer than 60 s, whatever the configuration says.
    let long = Auth::hs256(SECRET).with_ticket_ttl(600_000);
    let (t, expires) = long.issue_ticket("alice", TOKEN_EXP, t0);
    assert_eq!(expires, (t0 + 60_000) / 1000);
    assert_eq!(
        long.redeem_ticket(&t, t0 + 60_001).unwrap_err().code(),
        "unauthorized"
    );
}

#[tokio::test]
async fn acting_for_another_users_connection_is_forbidden() {
    let state = AppState::new(Config::default(), SECRET);
    let base = serve(state.clone()).await;
    let alice = hs(SECRET, "alice", now() + 600);
    let eve = hs(SECRET, "eve", now() + 600);
    // Alice's connection id, from her stream's hello.
    let (_, auth) = status(&base, "/api/auth/authenticate", Some(&alice), &json!({})).await;
    let res = reqwest::get(format!(
        "{base}/api/events?ticket={}",
        auth["sse_ticket"].as_str().unwrap()
    ))
    .await
    .unwrap();
    use eventsource_stream::Eventsource;
    use futures_util::StreamExt;
    let mut ev = Box::pin(res.bytes_stream().eventsource());
    let hello: Value = serde_json::from_str(&ev.next().await.unwrap().unwrap().data).unwrap();
    let alice_conn = hello["conn_id"].as_str().unwrap().to_owned();
    let (_, offer) = pqcall_crypto::Caller::start().unwrap();
    let body = json!({"to": "bob", "sdp": "v=0", "kem": {"suite": "ML-KEM-768", "ek": offer.ek_b64(), "commit": offer.commit_b64()}});
    let res = reqwest::Client::new()
        .post(format!("{base}/api/calls/offer"))
        .bearer_auth(&eve)
        .header("X-Pqcall-Conn", &alice_conn)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "forbidden");
    // Without the header: 400 missing_field.
    let (s, v) = status(&base, "/api/calls/offer", Some(&alice), &body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("missing_field"))
    );
}

/// A stream lives no longer than its token: at `exp` it gets `auth.expired` and ends,
/// whether it was opened with the token or with a ticket from it.
#[tokio::test]
async fn a_stream_ends_with_auth_expired_when_its_token_does() {
    let state = AppState::new(Config::default(), SECRET);
    let base = serve(state.clone()).await;
    for with_ticket in [false, true] {
        let exp = now() + 2;
        let token = hs(SECRET, "alice", exp);
        let mut events = if with_ticket {
            common::open(&base, &token, "").await
        } else {
            let res = reqwest::Client::new()
                .get(format!("{base}/api/events"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            use eventsource_stream::Eventsource;
            Box::pin(res.bytes_stream().eventsource())
        };
        assert_eq!(common::next(&mut events).await.event, "hello");
        let expired = common::next(&mut events).await;
        assert_eq!(expired.event, "auth.expired", "ticket: {with_ticket}");
        let data: Value = serde_json::from_str(&expired.data).unwrap();
        assert_eq!(data["expires_at"], exp);
        use futures_util::StreamExt;
        let end = tokio::time::timeout(std::time::Duration::from_secs(10), events.next());
        assert!(end.await.unwrap().is_none(), "the stream ends after it");
    }
}

/// The Ed25519 public key of the fixtures as a JWK named `kid`.
fn ed_jwk(kid: &str) -> Value {
    use base64::Engine as _;
    let pem = std::str::from_utf8(ED_PUBLIC).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der[der.len() - 32..]);
    json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"})
}

/// An EdDSA token whose header names `kid`.
fn ed_with_kid(sub: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_ed_pem(ED_PRIVATE).unwrap();
    encode(&header, &json!({"sub": sub, "exp": now() + 600}), &key).unwrap()
}

/// Keys from a JWKS document served by the test: chosen by `kid`, and rotated without
/// a restart (a token naming a new key makes the server fetch the document again).
#[tokio::test]
async fn keys_come_from_a_jwks_document_by_kid_and_rotate() {
    let doc = Arc::new(std::sync::Mutex::new(json!({"keys": [ed_jwk("k1")]})));
    let served = doc.clone();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let doc = served.lock().unwrap().clone();
            async move { axum::Json(doc) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = Config {
        jwks_url: Some(url),
        jwks_refresh_secs: 1,
        ..Config::default()
    };
    let auth = Auth::from_config(&config).await.unwrap();
    let base = serve(AppState::build(
        config,
        auth,
        Arc::new(MemoryStore::default()),
    ))
    .await;
    let code = |token: String| {
        let base = base.clone();
        async move {
            status(&base, "/api/auth/authenticate", Some(&token), &json!({}))
                .await
                .0
        }
    };
    assert_eq!(code(ed_with_kid("alice", "k1")).await, 200);
    assert_eq!(code(ed_with_kid("alice", "k2")).await, 401, "unknown kid");
    assert_eq!(code(ed("alice")).await, 401, "no kid");
    let mut hs_k1 = Header::new(Algorithm::HS256);
    hs_k1.kid = Some("k1".into());
    let forged = encode(
        &hs_k1,
        &json!({"sub": "alice", "exp": now() + 600}),
        &EncodingKey::from_secret(b"x"),
    )
    .unwrap();
    assert_eq!(
        code(forged).await,
        401,
        "the key's algorithm, not the token's"
    );

    // The provider rotates: k2 in, k1 out.
    *doc.lock().unwrap() = json!({"keys": [ed_jwk("k2")]});
    let rotated = async {
        while code(ed_with_kid("alice", "k2")).await != 200 {
            // Polling, at a pace under the rate limit.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), rotated)
        .await
        .expect("the new key is fetched");
    assert_eq!(
        code(ed_with_kid("alice", "k1")).await,
        401,
        "the retired key"
    );
}
