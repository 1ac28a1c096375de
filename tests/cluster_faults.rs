//! Cluster mode with the Redis connection cut at every command of an operation: a
//! stream is counted open in the shared core exactly when its lease exists, so a stream
//! is never left counted open with nothing to close it (its lease expiring is what
//! closes the streams of a node that cannot). Redis executes the commands up to the cut
//! one, the reply to that one is lost, and nothing after it arrives; the operation is
//! repeated with the cut one command later until it runs whole. Skipped (and says so)
//! when Redis does not answer.

mod common;

use std::sync::Arc;

use common::cluster::now_ms;
use common::redis_proxy::{CutProxy, REDIS};
use pqcall::cluster::Cluster;
use pqcall::cluster::RedisLog;
use pqcall_signaling::{CoreConfig, LogConfig, Scope};
use tokio::net::TcpStream;

async fn shared(url: &str, prefix: &str) -> (Arc<RedisLog>, Cluster) {
    let cfg = LogConfig {
        max_events: 100,
        max_age_ms: 60_000,
        ..LogConfig::default()
    };
    let log = Arc::new(RedisLog::connect(url, prefix, cfg).await.unwrap());
    let shared = Cluster::new(log.clone(), CoreConfig::default(), 60_000);
    (log, shared)
}

/// `user`'s stream leases and the connections the core counts open for `user`.
async fn observe(
    direct: &Cluster,
    redis: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    user: &str,
) -> (usize, usize) {
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}:streams"))
        .arg(0)
        .arg(-1)
        .query_async(redis)
        .await
        .unwrap();
    let leases = members
        .iter()
        .filter(|m| {
            serde_json::from_str::<(String, String, String, u64)>(m)
                .unwrap()
                .0
                == user
        })
        .count();
    let scope = Scope::users([user]);
    let online = direct
        .transact(scope, None, |core| {
            Ok((core.online_devices(user), Vec::new()))
        })
        .await
        .unwrap();
    (leases, online)
}

/// Waits until `log`'s connection works again after a cut (it reconnects by itself).
async fn reconnected(log: &RedisLog) {
    let back = async {
        while !log.ping().await {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), back)
        .await
        .expect("the connection through the proxy never came back");
}

/// Runs `run` with the cut at its first command, then its second, and so on until it
/// runs whole (`run` says whether a cut happened).
async fn at_every_cut(what: &str, via: &RedisLog, mut run: impl AsyncFnMut(u64) -> bool) {
    let mut cut_at = 0;
    loop {
        assert!(cut_at < 50, "{what} never ran whole");
        reconnected(via).await;
        if !run(cut_at).await {
            break;
        }
        cut_at += 1;
    }
    // One command can be all there is: a node whose copies of the records are fresh
    // only commits.
    assert!(cut_at >= 1, "{what}: nothing was cut");
}

#[tokio::test]
async fn a_stream_is_counted_open_exactly_while_its_lease_exists_wherever_redis_is_cut() {
    if TcpStream::connect(REDIS).await.is_err() {
        eprintln!("SKIPPED: Redis does not answer at {REDIS}");
        return;
    }
    let proxy = CutProxy::start().await;
    let prefix = format!("pqcall-faults-{:x}", now_ms());
    let (via_log, via) = shared(&proxy.url, &prefix).await;
    let (_, direct) = shared(&format!("redis://{REDIS}"), &prefix).await;
    let mut redis = redis::Client::open(format!("redis://{REDIS}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    // Opening a stream, cut at each of its commands in turn.
    at_every_cut("opening a stream", &via_log, async |cut_at| {
        let user = format!("open-{cut_at}");
        proxy.arm(cut_at);
        let opened = via.open_stream(now_ms(), &user, None, 1).await;
        let cut = proxy.disarm();
        let (leases, online) = observe(&direct, &mut redis, &prefix, &user).await;
        assert_eq!(leases, online, "cut at command {cut_at}: {opened:?}");
        if opened.is_ok() {
            assert_eq!(online, 1, "opened, yet not counted open");
        }
        cut
    })
    .await;

    // Closing one, likewise.
    at_every_cut("closing a stream", &via_log, async |cut_at| {
        let user = format!("close-{cut_at}");
        let conn = via.open_stream(now_ms(), &user, None, 1).await.unwrap();
        assert_eq!(observe(&direct, &mut redis, &prefix, &user).await, (1, 1));
        proxy.arm(cut_at);
        let closed = via.close_stream(&user, &conn, 1).await;
        let cut = proxy.disarm();
        let (leases, online) = observe(&direct, &mut redis, &prefix, &user).await;
        assert_eq!(leases, online, "cut at command {cut_at}: {closed:?}");
        if let Ok(closed) = closed {
            assert!(closed, "no other node could have closed it");
            assert_eq!(online, 0, "closed, yet still counted open");
        }
        cut
    })
    .await;
}
