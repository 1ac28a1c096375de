//! The event-log and chat-store conformance suites against the real Redis
//! (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, database `test`). Set
//! `PQCALL_TEST_REDIS` / `PQCALL_TEST_POSTGRES` to other URLs. When a service does not
//! answer, the test says it was skipped (CI checks both answer before running tests).

mod common;

use common::{Events, next, open, post};
use pqcall::cluster::RedisLog;
use pqcall::event_log::conformance;
use pqcall::store::{PostgresStore, conformance as store_conformance};
use serde_json::{Value, json};

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

/// A Redis event log under a fresh prefix, with a connection of the test's own to look
/// inside it; `None` (the test says it was skipped) when Redis does not answer.
async fn fresh_log(
    cfg: pqcall_signaling::LogConfig,
) -> Option<(RedisLog, String, redis::aio::MultiplexedConnection)> {
    let url = redis_url();
    let prefix = format!("pqcall-test-{}", salt());
    let log = match RedisLog::connect(&url, &prefix, cfg).await {
        Ok(l) if l.ping().await => l,
        _ => {
            eprintln!("SKIPPED: Redis does not answer at {url}");
            return None;
        }
    };
    let client = redis::Client::open(url.as_str()).ok()?;
    let con = client.get_multiplexed_async_connection().await.ok()?;
    Some((log, prefix, con))
}

#[tokio::test]
async fn redis_event_log_conforms() {
    let Some((log, _, _)) = fresh_log(conformance::CONFIG).await else {
        return;
    };
    conformance::run(&log, 1, 1_700_000_000_000).await;
    conformance::run(&log, 2, 1_700_000_000_000).await;
}

type Con = redis::aio::MultiplexedConnection;

/// A log of 80 events on a fresh prefix given 400 appends, `tamper` run before each
/// (with its index) to meddle with Redis behind the log's back. After each append the
/// stream holds at most an eighth past the window; after all of them, resuming at the
/// window's edge replays the whole window and resuming one before it resets, the
/// replay's exact trim leaving 80 entries in the stream. Returns the prefix, a
/// connection, and after each append the stream's length and the list's beside it.
async fn appends_past_the_window(
    mut tamper: impl AsyncFnMut(usize, &mut Con, &str),
) -> Option<(String, Con, Vec<(usize, usize)>)> {
    use pqcall::event_log::EventLog;
    use pqcall_signaling::{Audience, LogConfig, Replay};
    let cfg = LogConfig {
        max_events: 80,
        max_age_ms: 60_000,
        max_bytes: 1 << 20,
    };
    let (log, prefix, mut con) = fresh_log(cfg).await?;
    let key = format!("{prefix}:events:u");
    let mut ids = vec![log.newest("u").await.unwrap()];
    let mut lengths = Vec::new();
    for i in 0..400 {
        tamper(i, &mut con, &key).await;
        let e = log.append("u", Audience::All, "e", "{}", 1_700_000_000_000 + i as u64);
        ids.push(e.await.unwrap().expect("a log").id);
        let len: usize = redis::cmd("XLEN")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(len <= 80 + 10, "{len} entries after {} appends", i + 1);
        lengths.push((len, llen(&mut con, &key).await));
    }
    let now = 1_700_000_000_400;
    let (edge, before) = (ids[320].to_string(), ids[319].to_string());
    match log.replay("u", &edge, "c", now).await.unwrap() {
        Replay::Events(e) => assert_eq!(e.len(), 80),
        other => panic!("resume at the window's edge: {other:?}"),
    }
    let len: usize = redis::cmd("XLEN")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(len, 80, "a replay trims to the exact window");
    let reset = log.replay("u", &before, "c", now).await.unwrap();
    assert!(matches!(reset, Replay::Reset { .. }));
    Some((prefix, con, lengths))
}

/// An append trims the oldest events in a batch once the log is an eighth past its
/// window (reading the small list of the events' sizes and times beside the stream, not
/// the events), so Redis holds at most `max_events + max_events / 8` entries of a user,
/// and the list one line for each of them; a replay trims to the exact window first, so
/// what a client can resume is the in-memory log's.
#[tokio::test]
async fn redis_log_trims_in_batches_within_an_eighth() {
    let Some((prefix, mut con, lengths)) = appends_past_the_window(async |_, _, _| {}).await else {
        return;
    };
    let most = lengths.iter().map(|(stream, _)| *stream).max();
    assert_eq!(
        most,
        Some(90),
        "the log runs an eighth past its window before a batch goes"
    );
    for (i, (stream, list)) in lengths.into_iter().enumerate() {
        assert_eq!(
            stream,
            list,
            "the list beside the stream after {} appends",
            i + 1
        );
    }
    let key = format!("{prefix}:events:u");
    assert_eq!(
        llen(&mut con, &key).await,
        80,
        "and after the replay's trim"
    );
}

/// The list beside a stream lost on its own (Redis evicted it, or a build without it
/// wrote the log), or holding lines of an older epoch, is made again from the stream at
/// the next eviction: the window, its byte count and what a client can resume stay the
/// in-memory log's.
#[tokio::test]
async fn a_lost_or_stale_list_is_made_again_from_the_stream() {
    let tamper = async |i: usize, con: &mut Con, key: &str| {
        let costs = format!("{key}\ncosts");
        let meddle = match i {
            150 => redis::cmd("DEL").arg(costs).clone(),
            // A line left by an older epoch, ahead of the current ones.
            250 => redis::cmd("LPUSH")
                .arg(costs)
                .arg("999 1700000000000 99")
                .clone(),
            _ => return,
        };
        meddle.query_async::<()>(con).await.unwrap();
    };
    let Some((prefix, mut con, _)) = appends_past_the_window(tamper).await else {
        return;
    };
    let key = format!("{prefix}:events:u");
    assert_eq!(
        llen(&mut con, &key).await,
        80,
        "one line for each event kept"
    );
    let state: String = redis::cmd("GET")
        .arg(format!("{prefix}:state:u"))
        .query_async(&mut con)
        .await
        .unwrap();
    // "epoch seq evicted bytes first renewed"; an event costs its name, data and 96.
    let fields: Vec<&str> = state.split(' ').collect();
    let bytes = (80 * (1 + 2 + 96)).to_string();
    assert_eq!(fields[1..4], ["400", "320", bytes.as_str()]);
    assert_eq!(fields[4], "1700000000320", "the oldest event kept");
}

/// The length of the list of event sizes beside the stream `key` (log_prologue.lua).
async fn llen(con: &mut Con, key: &str) -> usize {
    redis::cmd("LLEN")
        .arg(format!("{key}\ncosts"))
        .query_async(con)
        .await
        .unwrap()
}

/// A stream left without its state (Redis evicted or expired the state alone) is
/// dropped when the log starts again under a new epoch: its entries are never replayed
/// under the new epoch, and their ids do not block the new ones.
#[tokio::test]
async fn a_stream_without_its_state_starts_over() {
    use pqcall::event_log::EventLog;
    use pqcall_signaling::{Audience, Replay};
    let Some((log, prefix, mut con)) = fresh_log(conformance::CONFIG).await else {
        return;
    };
    let stale: String = redis::cmd("XADD")
        .arg(format!("{prefix}:events:u"))
        .arg("0-5")
        .arg("name")
        .arg("stale")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(stale, "0-5");
    let start = log.newest("u").await.unwrap();
    assert_eq!(start.seq, 0);
    let e = log.append("u", Audience::All, "fresh", "{}", 1_700_000_000_000);
    let id = e.await.unwrap().expect("a log").id;
    assert_eq!(id.seq, 1);
    match log
        .replay("u", &start.to_string(), "c", 1_700_000_000_001)
        .await
        .unwrap()
    {
        Replay::Events(e) => {
            let names: Vec<&str> = e.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names, ["fresh"]);
        }
        other => panic!("replay of the new epoch: {other:?}"),
    }
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:events:u"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(ttl > 0, "the new stream expires ({ttl})");
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:events:u\ncosts"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(ttl > 0, "the list beside it expires too ({ttl})");
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

/// A node on the test Redis and PostgreSQL, serving on 127.0.0.1 until `stop` fires;
/// `None` when a service does not answer.
async fn start_node(
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Option<(
    String,
    pqcall::AppState,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let state = pqcall::AppState::from_config(cluster_config()).await.ok()?;
    let (base, task) = common::serve_until(state.clone(), stop).await;
    Some((base, state, task))
}

/// One node on Redis and PostgreSQL: a restarted node keeps every user's event log, so
/// a device resumes after the restart without a reset, and chat history is there too.
#[tokio::test]
async fn a_restarted_node_on_redis_resumes_without_reset() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let Some((base, state, task)) = start_node(async move {
        let _ = rx.await;
    })
    .await
    else {
        eprintln!("SKIPPED: Redis or PostgreSQL does not answer");
        return;
    };
    let user = format!("restart-{}", salt());
    let token = state.mint_token(&user, 600).unwrap();
    let mut ev = open(&base, &token, "").await;
    let position = next(&mut ev).await.id;
    drop(ev);
    for n in 0..3 {
        pqcall::publish_app_event(&state, vec![user.clone()], "app.n", json!({ "n": n }))
            .await
            .unwrap();
    }
    let (_, r) = post(
        &base,
        &token,
        None,
        "/api/conversations/create",
        json!({"members": []}),
    )
    .await;
    let conv = r["conversation_id"].as_str().unwrap().to_owned();
    let send = json!({"conversation_id": conv, "body": "kept", "client_msg_id": "k1"});
    assert_eq!(
        post(&base, &token, None, "/api/messages/send", send)
            .await
            .0,
        200
    );

    // Restart the node.
    let _ = tx.send(());
    task.await.unwrap().unwrap();
    drop(state);
    let (base, _state, _task) = start_node(std::future::pending()).await.unwrap();
    let mut ev = open(&base, &token, &format!("&last_event_id={position}")).await;
    let hello: Value = serde_json::from_str(&next(&mut ev).await.data).unwrap();
    assert_eq!(hello["resumed"], true, "the log survived the restart");
    for n in 0..3 {
        let e = next(&mut ev).await;
        assert_eq!(e.event, "app.n");
        assert_eq!(serde_json::from_str::<Value>(&e.data).unwrap()["n"], n);
    }
    let (_, page) = post(
        &base,
        &token,
        None,
        "/api/messages/load",
        json!({"conversation_id": conv}),
    )
    .await;
    assert_eq!(page["messages"][0]["body"], "kept");
}

/// Two nodes on one Redis and one PostgreSQL: what is sent through node 1 reaches a
/// stream held by node 2 live, once, in order; typing crosses nodes too.
#[tokio::test]
async fn events_cross_nodes_live_exactly_once() {
    let mut nodes = vec![];
    for _ in 0..2 {
        let Some((base, state, _)) = start_node(std::future::pending()).await else {
            eprintln!("SKIPPED: Redis or PostgreSQL does not answer");
            return;
        };
        nodes.push((base, state));
    }
    let (n1, n2) = (&nodes[0].0, &nodes[1].0);
    let s = salt();
    let (alice, bob) = (format!("alice-{s}"), format!("bob-{s}"));
    let state = &nodes[0].1;
    let (ta, tb) = (
        state.mint_token(&alice, 600).unwrap(),
        state.mint_token(&bob, 600).unwrap(),
    );
    // Bob's device is on node 2.
    let mut ev = open(n2, &tb, "").await;
    assert_eq!(next(&mut ev).await.event, "hello");
    // Alice works through node 1.
    let (_, r) = post(
        n1,
        &ta,
        None,
        "/api/conversations/create",
        json!({"members": [bob]}),
    )
    .await;
    let conv = r["conversation_id"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let m = json!({"conversation_id": conv, "body": format!("m{i}"), "client_msg_id": format!("c{i}")});
        assert_eq!(post(n1, &ta, None, "/api/messages/send", m).await.0, 200);
    }
    let typing = json!({"conversation_id": conv});
    assert_eq!(
        post(n1, &ta, None, "/api/typing/start", typing).await.0,
        204
    );
    pqcall::publish_app_event(state, vec![bob.clone()], "app.end", json!({}))
        .await
        .unwrap();
    let mut names = vec![];
    loop {
        let e = next(&mut ev).await;
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

/// A send whose fan-out an error cut short (the message stored, the event logged for
/// some members only, the client told 503) is finished by the client's retry: each
/// member gets `message.new` exactly once, and later retries fan out nothing new.
#[tokio::test]
async fn a_retried_send_finishes_a_cut_short_fan_out_exactly_once() {
    use pqcall::event_log::EventLog;
    use pqcall::store::ChatStore;
    use pqcall_signaling::{Output, chat};
    let Some((base, state, _)) = start_node(std::future::pending()).await else {
        eprintln!("SKIPPED: Redis or PostgreSQL does not answer");
        return;
    };
    let s = salt();
    let (alice, bob) = (format!("alice-{s}"), format!("bob-{s}"));
    let (ta, tb) = (
        state.mint_token(&alice, 600).unwrap(),
        state.mint_token(&bob, 600).unwrap(),
    );
    // The body of the next message.new (other events are skipped).
    async fn next_message(ev: &mut Events) -> String {
        loop {
            let e = next(ev).await;
            if e.event == "message.new" {
                let v: Value = serde_json::from_str(&e.data).unwrap();
                return v["message"]["body"].as_str().unwrap().to_owned();
            }
        }
    }
    let (mut ev_a, mut ev_b) = (open(&base, &ta, "").await, open(&base, &tb, "").await);
    let (status, r) = post(
        &base,
        &ta,
        None,
        "/api/conversations/create",
        json!({"members": [bob]}),
    )
    .await;
    assert_eq!(status, 200);
    let conv_id = r["conversation_id"].as_str().unwrap().to_owned();

    // The first attempt, cut short: stored, then logged for alice only.
    let store = PostgresStore::open(&postgres_url()).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let draft = pqcall_signaling::chat::NewMessage {
        conversation_id: conv_id.clone(),
        from: alice.clone(),
        body: "cut short".into(),
        client_msg_id: "c1".into(),
        created_at: now,
    };
    let (stored, inserted) = store.insert_message(&draft).await.unwrap();
    assert!(inserted);
    let conv = store.conversation(&conv_id).await.unwrap().unwrap();
    let config = cluster_config();
    let log_cfg = config.log_config();
    let log = RedisLog::connect(&redis_url(), &config.redis_prefix, log_cfg)
        .await
        .unwrap();
    for o in chat::message_stored(&conv, &stored) {
        if let Output::Deliver {
            user,
            audience,
            event,
        } = o
        {
            if user == alice {
                let key = format!("message:{}", stored.id);
                let data = event.data_json();
                log.append_once(&user, &key, audience, event.name(), &data, now)
                    .await
                    .unwrap()
                    .unwrap();
            }
        }
    }
    assert_eq!(next_message(&mut ev_a).await, "cut short");

    // The client's retry answers the stored message and reaches bob, once.
    let retry = json!({"conversation_id": conv_id, "body": "cut short", "client_msg_id": "c1"});
    for _ in 0..2 {
        let (status, r) = post(&base, &ta, None, "/api/messages/send", retry.clone()).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["message"]["id"], stored.id.as_str());
    }
    assert_eq!(next_message(&mut ev_b).await, "cut short");
    // Nothing new for anyone: each member's next message is the next send.
    let after = json!({"conversation_id": conv_id, "body": "after", "client_msg_id": "c2"});
    assert_eq!(
        post(&base, &ta, None, "/api/messages/send", after).await.0,
        200
    );
    assert_eq!(
        next_message(&mut ev_a).await,
        "after",
        "alice got no duplicate"
    );
    assert_eq!(
        next_message(&mut ev_b).await,
        "after",
        "bob got no duplicate"
    );
}
