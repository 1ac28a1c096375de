//! What the server shows the world: security headers, only the demo's own files, a
//! development server that answers only to localhost (no DNS rebinding), CORS for any
//! origin when asked.

mod common;

use pqcall::{AppState, Config};
use serde_json::json;

const SECRET: &[u8] = b"exposure-secret-0123456789abcdef0123";

async fn serve(config: Config) -> String {
    common::serve(AppState::new(config, SECRET)).await
}

#[tokio::test]
async fn the_demo_is_served_with_security_headers_and_nothing_else_of_its_folder() {
    // The copy built into the binary, and a `--web-dir`.
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    for web_dir in [None, Some(folder)] {
        let base = serve(Config {
            web_dir: web_dir.clone(),
            ..Config::default()
        })
        .await;
        demo_is_served(&base).await;
    }
}

async fn demo_is_served(base: &str) {
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(page.text().await.unwrap().contains("<title>pqcall"));
    for (file, kind) in [
        ("/demo.css", "text/css"),
        ("/dist/pqcall.js", "text/javascript"),
        ("/dist/demo.js", "text/javascript"),
        ("/dist/e2ee-worker.js", "text/javascript"),
    ] {
        let res = reqwest::get(format!("{base}{file}")).await.unwrap();
        assert_eq!(res.status(), 200, "{file}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(kind), "{file}: {ct}");
    }
    let icon = reqwest::get(format!("{base}/favicon.ico")).await.unwrap();
    assert_eq!(icon.status(), 204);
    for private in [
        "/package.json",
        "/package-lock.json",
        "/src/demo.js",
        "/test/calls.test.js",
        "/e2e/harness.js",
        "/dist/../package.json",
        "/node_modules/.package-lock.json",
        "/dist/nope.js",
    ] {
        let res = reqwest::get(format!("{base}{private}")).await.unwrap();
        assert_eq!(res.status(), 404, "{private}");
    }
    // API answers carry the headers too.
    let res = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn development_mode_answers_only_requests_addressed_to_localhost() {
    let base = serve(Config {
        dev: true,
        ..Config::default()
    })
    .await;
    let port = base.rsplit(':').next().unwrap();
    let client = reqwest::Client::new();
    let mint = |host: String| {
        client
            .post(format!("{base}/api/dev/token"))
            .header("host", host)
            .json(&json!({"user": "alice"}))
            .send()
    };
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("app.localhost:{port}"),
    ] {
        let res = mint(host.clone()).await.unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
    // A page on another site that points its name at 127.0.0.1 (DNS rebinding).
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("192.168.1.5:{port}"),
        format!("localhost.evil.example:{port}"),
    ] {
        let res = mint(host.clone()).await.unwrap();
        assert_eq!(res.status(), 403, "{host}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
    }
}

#[tokio::test]
async fn with_force_dev_a_lan_address_mints_but_a_host_name_never_does() {
    let base = serve(Config {
        dev: true,
        force_dev: true,
        ..Config::default()
    })
    .await;
    let client = reqwest::Client::new();
    for (host, status) in [
        ("192.168.1.5:8443", 200),
        ("[fd00::5]:8443", 200),
        ("evil.example:8443", 403),
        ("pqcall.lan", 403),
    ] {
        let res = client
            .post(format!("{base}/api/dev/token"))
            .header("host", host)
            .json(&json!({"user": "alice"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{host}");
    }
}

#[tokio::test]
async fn cors_for_any_origin_starts_and_answers() {
    let base = serve(Config {
        cors_origins: vec!["*".into()],
        ..Config::default()
    })
    .await;
    let res = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}/api/messages/send"),
        )
        .header("origin", "https://anywhere.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn the_routes_without_a_token_are_rate_limited_per_address() {
    let base = serve(Config {
        ip_rate_per_sec: 1,
        ip_rate_burst: 5,
        ..Config::default()
    })
    .await;
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(
            reqwest::get(format!("{base}/healthz"))
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(codes, [200, 200, 200, 200, 200, 429, 429]);
    let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(res.status(), 429, "one bucket for every open route");
    assert!(res.headers().contains_key("retry-after"));
    // Routes with a token are charged to the user, not the address.
    let res = reqwest::Client::new()
        .post(format!("{base}/api/auth/authenticate"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn cors_for_any_origin_is_refused_in_development_mode() {
    let config = Config {
        dev: true,
        cors_origins: vec!["*".into()],
        ..Config::default()
    };
    let err = AppState::from_config(config).await.unwrap_err();
    assert!(err.to_string().contains("--cors-origin"), "{err}");
}
