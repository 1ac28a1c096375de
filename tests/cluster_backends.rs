//! The event-log and chat-store conformance suites against the real Redis
//! (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, database `test`). Set
//! `PQCALL_TEST_REDIS` / `PQCALL_TEST_POSTGRES` to other URLs. When a service does not
//! answer, the test says it was skipped (CI checks both answer before running tests).

use pqcall::redis_log::RedisLog;
use pqcall::store::{PostgresStore, conformance as store_conformance};
use pqcall_signaling::log::conformance;

/// A node's configuration on the test Redis and PostgreSQL.
fn cluster_config() -> pqcall::Config {
    pqcall::Config {
        jwt_secret: Some("cluster-test-secret-0123456789abcdef".into()),
        redis_url: Some(redis_url()),
        database_url: Some(postgres_url()),
        ..pqcall::Config::default()
    }
}

fn redis_url() -> String {
    std::env::var("PQCALL_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn postgres_url() -> String {
    std::env::var("PQCALL_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn salt() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test]
async fn redis_event_log_conforms() {
    let url = redis_url();
    let prefix = format!("pqcall-test-{}", salt());
    let log = match RedisLog::connect(&url, &prefix, conformance::CONFIG).await {
        Ok(l) if l.ping().await => l,
        _ => {
            eprintln!("SKIPPED: Redis does not answer at {url}");
            return;
        }
    };
    conformance::run(&log, 1, 1_700_000_000_000).await;
    conformance::run(&log, 2, 1_700_000_000_000).await;
}

#[tokio::test]
async fn postgres_store_conforms() {
    let url = postgres_url();
    let store = match PostgresStore::open(&url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED: PostgreSQL does not answer at {url}: {e}");
            return;
        }
    };
    // Conversation ids are unique per run, so the suite can run on a shared database.
    let s = salt() % 1_000_000_000_000;
    store_conformance::run(&store, &format!("p{s}")).await;
}

/// One node on Redis and PostgreSQL: a restarted node keeps every user's event log, so
/// a device resumes after the restart without a reset, and chat history is there too.
#[tokio::test]
async fn a_restarted_node_on_redis_resumes_without_reset() {
    use eventsource_stream::Eventsource;
    use futures_util::StreamExt;
    use serde_json::{Value, json};
    let config = cluster_config();
    let start = || async {
        let state = match pqcall::AppState::from_config(config.clone()).await {
            Ok(s) => s,
            Err(e) => return Err(e),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let s = state.clone();
        let task = tokio::spawn(pqcall::run(listener, s, async move {
            let _ = rx.await;
        }));
        Ok((base, state, tx, task))
    };
    let Ok((base, state, stop, task)) = start().await else {
        eprintln!("SKIPPED: Redis or PostgreSQL does not answer");
        return;
    };
    let user = format!("restart-{}", salt());
    let token = state.mint_token(&user, 600).unwrap();
    let http = reqwest::Client::new();
    let open = |base: String, last: Option<String>| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let t: Value = http
                .post(format!("{base}/api/auth/authenticate"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut url = format!(
                "{base}/api/events?ticket={}",
                t["sse_ticket"].as_str().unwrap()
            );
            if let Some(l) = last {
                url.push_str(&format!("&last_event_id={l}"));
            }
            Box::pin(
                http.get(url)
                    .send()
                    .await
                    .unwrap()
                    .bytes_stream()
                    .eventsource(),
            )
        }
    };
    let mut ev = open(base.clone(), None).await;
    let hello = ev.next().await.unwrap().unwrap();
    let position = hello.id.clone();
    drop(ev);
    for n in 0..3 {
        pqcall::publish_app_event(&state, vec![user.clone()], "app.n", json!({ "n": n }))
            .await
            .unwrap();
    }
    let (_, conv) = {
        let r: Value = http
            .post(format!("{base}/api/conversations/create"))
            .bearer_auth(&token)
            .json(&json!({"members": []}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["conversation_id"].as_str().unwrap().to_owned();
        let _: Value = http
            .post(format!("{base}/api/messages/send"))
            .bearer_auth(&token)
            .json(&json!({"conversation_id": id, "body": "kept", "client_msg_id": "k1"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ((), id)
    };
    // Restart the node.
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    drop(state);
    let (base, _state, _stop, _task) = start().await.unwrap();
    let mut ev = open(base.clone(), Some(position)).await;
    let hello: Value = serde_json::from_str(&ev.next().await.unwrap().unwrap().data).unwrap();
    assert_eq!(hello["resumed"], true, "the log survived the restart");
    for n in 0..3 {
        let e = ev.next().await.unwrap().unwrap();
        assert_eq!(e.event, "app.n");
        assert_eq!(serde_json::from_str::<Value>(&e.data).unwrap()["n"], n);
    }
    let page: Value = http
        .post(format!("{base}/api/messages/load"))
        .bearer_auth(&token)
        .json(&json!({"conversation_id": conv}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"][0]["body"], "kept");
}

/// Two nodes on one Redis and one PostgreSQL: what is sent through node 1 reaches a
/// stream held by node 2 live, once, in order; typing crosses nodes too.
#[tokio::test]
async fn events_cross_nodes_live_exactly_once() {
    use eventsource_stream::Eventsource;
    use futures_util::StreamExt;
    use serde_json::{Value, json};
    let config = cluster_config();
    let mut nodes = vec![];
    for _ in 0..2 {
        let Ok(state) = pqcall::AppState::from_config(config.clone()).await else {
            eprintln!("SKIPPED: Redis or PostgreSQL does not answer");
            return;
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(pqcall::run(listener, state.clone(), std::future::pending()));
        nodes.push((base, state));
    }
    let (n1, n2) = (&nodes[0], &nodes[1]);
    let s = salt();
    let (alice, bob) = (format!("alice-{s}"), format!("bob-{s}"));
    let (ta, tb) = (
        n1.1.mint_token(&alice, 600).unwrap(),
        n1.1.mint_token(&bob, 600).unwrap(),
    );
    let http = reqwest::Client::new();
    // Bob's device is on node 2.
    let t: Value = http
        .post(format!("{}/api/auth/authenticate", n2.0))
        .bearer_auth(&tb)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ev = Box::pin(
        http.get(format!(
            "{}/api/events?ticket={}",
            n2.0,
            t["sse_ticket"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes_stream()
        .eventsource(),
    );
    assert_eq!(ev.next().await.unwrap().unwrap().event, "hello");
    // Alice works through node 1.
    let r: Value = http
        .post(format!("{}/api/conversations/create", n1.0))
        .bearer_auth(&ta)
        .json(&json!({"members": [bob]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conv = r["conversation_id"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let res = http.post(format!("{}/api/messages/send", n1.0)).bearer_auth(&ta).json(&json!({"conversation_id": conv, "body": format!("m{i}"), "client_msg_id": format!("c{i}")})).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }
    let res = http
        .post(format!("{}/api/typing/start", n1.0))
        .bearer_auth(&ta)
        .json(&json!({"conversation_id": conv}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    pqcall::publish_app_event(&n1.1, vec![bob.clone()], "app.end", json!({}))
        .await
        .unwrap();
    let mut names = vec![];
    loop {
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), ev.next())
            .await
            .expect("live from the other node")
            .unwrap()
            .unwrap();
        if e.event == "message.new" {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            names.push(v["message"]["body"].as_str().unwrap().to_owned());
        } else {
            names.push(e.event.clone());
        }
        if e.event == "app.end" {
            break;
        }
    }
    assert_eq!(
        names,
        [
            "conversation.created",
            "m0",
            "m1",
            "m2",
            "m3",
            "m4",
            "typing",
            "app.end"
        ],
        "each once, in order"
    );
}
