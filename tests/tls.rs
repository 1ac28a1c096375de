//! HTTPS and HTTP/2: `--tls-self-signed` and `--tls-cert`/`--tls-key` serve h2 (by
//! ALPN) and HTTP/1.1 over rustls; plain TCP serves h2c with prior knowledge; the native
//! client makes a call over each, event stream included.

mod common;

use std::time::Duration;

use pqcall::client::{Client, StreamItem};
use pqcall::{AppState, Config};
use pqcall_signaling::Event;
use pqcall_signaling::api::{AnswerKemBody, AnswerRequest};

const SECRET: &str = "tls-test-secret-0123456789abcdefgh";

/// A server made as `pqcall serve` makes it, with `config`'s TLS: its base URL
/// (`https://127.0.0.1:<port>` when TLS is on) and state.
async fn serve(config: Config) -> (String, AppState) {
    let config = Config {
        jwt_secret: Some(SECRET.into()),
        database: ":memory:".into(),
        ..config
    };
    let state = AppState::from_config(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if state.tls().is_some() {
        "https"
    } else {
        "http"
    };
    let base = format!("{scheme}://{}", listener.local_addr().unwrap());
    tokio::spawn(pqcall::run(listener, state.clone(), std::future::pending()));
    (base, state)
}

/// A reqwest client that trusts only `state`'s certificate.
fn trusting(state: &AppState) -> reqwest::ClientBuilder {
    let der = state.tls().unwrap().certificate().to_vec();
    let cert = reqwest::Certificate::from_der(&der).unwrap();
    reqwest::Client::builder().tls_certs_only([cert])
}

async fn hello(s: &mut pqcall::client::EventStream) {
    match s.next().await.unwrap() {
        StreamItem::Hello(_) => {}
        other => panic!("expected hello, got {other:?}"),
    }
}

/// Alice calls bob and bob answers, through `http`: each side's stream sees the other's
/// SDP, so POSTs and the event streams both work over this transport.
async fn call_through(base: &str, state: &AppState, http: reqwest::Client) {
    let client =
        |user: &str| Client::with_http(base, state.mint_token(user, 600).unwrap(), http.clone());
    let (alice, bob) = (client("alice"), client("bob"));
    let (mut a, mut b) = (alice.events(), bob.events());
    hello(&mut a).await;
    hello(&mut b).await;
    let offer = common::offer_to("bob", "v=0 offer");
    let call = alice.offer(a.conn_id().unwrap(), &offer).await.unwrap();
    match b.next().await.unwrap() {
        StreamItem::Event {
            event: Event::CallOffer(o),
            ..
        } => assert_eq!(
            (o.call_id.as_str(), o.sdp.as_str()),
            (&*call.call_id, "v=0 offer")
        ),
        other => panic!("{other:?}"),
    }
    let answer = AnswerRequest {
        call_id: call.call_id.clone(),
        sdp: "v=0 answer".into(),
        kem: AnswerKemBody {
            ct: pqcall_crypto::wire::encode(&[0; 1088]),
        },
    };
    bob.answer(b.conn_id().unwrap(), &answer).await.unwrap();
    match a.next().await.unwrap() {
        StreamItem::Event {
            event: Event::CallAnswer(ans),
            ..
        } => assert_eq!(ans.sdp, "v=0 answer"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn self_signed_tls_serves_h2_by_alpn_and_a_call_works_over_it() {
    let (base, state) = serve(Config {
        tls_self_signed: true,
        ..Config::default()
    })
    .await;
    assert!(base.starts_with("https://"));
    let tls = state.tls().unwrap();
    let fp = tls.fingerprint();
    assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
    assert!(
        !format!("{tls:?}").contains("PRIVATE"),
        "Debug shows no key"
    );

    let http = trusting(&state).build().unwrap();
    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2, "ALPN picked h2");
    assert!(res.status().is_success());
    // The certificate names localhost as well as the address.
    let port = base.rsplit(':').next().unwrap();
    let res = http
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    call_through(&base, &state, http).await;

    // HTTP/1.1 clients are served too.
    let h1 = trusting(&state).http1_only().build().unwrap();
    let res = h1.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    call_through(&base, &state, h1).await;

    // A client that does not trust the certificate is refused by its own TLS.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap();
    assert!(
        untrusting
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_certificate_from_pem_files_is_served() {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let (base, state) = serve(Config {
        tls_cert: Some(cert),
        tls_key: Some(key.clone()),
        ..Config::default()
    })
    .await;
    assert_eq!(
        state.tls().unwrap().certificate().as_ref(),
        made.cert.der().as_ref()
    );
    let http = trusting(&state).build().unwrap();
    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);

    // Files that are not PEM stop the start with the flag and the path in the error.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let err = AppState::from_config(Config {
        tls_cert: Some(garbage.clone()),
        tls_key: Some(key),
        jwt_secret: Some(SECRET.into()),
        database: ":memory:".into(),
        ..Config::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("--tls-cert") && err.contains("garbage.pem"),
        "{err}"
    );
}

#[tokio::test]
async fn plain_tcp_serves_h2c_with_prior_knowledge() {
    let (base, state) = serve(Config::default()).await;
    assert!(state.tls().is_none());
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let res = h2c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    call_through(&base, &state, h2c).await;
}

#[tokio::test]
async fn a_client_that_never_finishes_the_tls_handshake_is_disconnected() {
    let (base, _state) = serve(Config {
        tls_self_signed: true,
        header_timeout_secs: 1,
        ..Config::default()
    })
    .await;
    let addr = base.trim_start_matches("https://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The first bytes of a TLS record, then nothing.
    tokio::io::AsyncWriteExt::write_all(&mut tcp, &[0x16, 0x03, 0x01])
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read(&mut tcp, &mut buf),
    )
    .await
    .expect("the server closes the connection")
    .unwrap_or(0);
    assert_eq!(n, 0, "closed without a response");
}

#[tokio::test]
async fn a_client_silent_after_the_tls_handshake_is_disconnected() {
    let (base, state) = serve(Config {
        tls_self_signed: true,
        header_timeout_secs: 1,
        ..Config::default()
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(state.tls().unwrap().certificate().clone())
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(base.trim_start_matches("https://"))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("the handshake completes");
    // Then nothing: no preface, no request.
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match tokio::io::AsyncReadExt::read(&mut tls, &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closes a silent connection");
}
