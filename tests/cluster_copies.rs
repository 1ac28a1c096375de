//! A cluster node's copies of the records (src/engine/cluster/cache.rs), against the real
//! Redis through a proxy that counts the node's commands: a request whose records the
//! node holds fresh takes one round trip, the commit; a copy another node made stale
//! never decides anything (its commit is refused, and the request runs again on the
//! records as they are now); the request rate is charged once either way. Skipped (and
//! says so) when Redis does not answer.

mod common;

use std::sync::Arc;

use common::cluster::now_ms;
use common::redis_proxy::{CutProxy, REDIS};
use pqcall::cluster::{Cluster, RedisLog};
use pqcall_signaling::{CoreConfig, Error, LogConfig, Scope};
use tokio::net::TcpStream;

async fn node(url: &str, prefix: &str) -> Cluster {
    let log = RedisLog::connect(url, prefix, LogConfig::default()).await;
    Cluster::new(Arc::new(log.unwrap()), CoreConfig::default(), 60_000)
}

/// A proxy to Redis, node a through it and node b straight, under a fresh prefix (the
/// fourth); `None` (saying so) when Redis does not answer.
async fn two_nodes(name: &str) -> Option<(CutProxy, Cluster, Cluster, String)> {
    if TcpStream::connect(REDIS).await.is_err() {
        eprintln!("SKIPPED: Redis does not answer at {REDIS}");
        return None;
    }
    let proxy = CutProxy::start().await;
    let prefix = format!("pqcall-{name}-{:x}", now_ms());
    let a = node(&proxy.url, &prefix).await;
    let b = node(&format!("redis://{REDIS}"), &prefix).await;
    // Redis knows the scripts (it keeps them for every client), so that each command
    // counted is a round trip of the transaction's own.
    b.open_stream(now_ms(), "warm-up", None, 1).await.unwrap();
    Some((proxy, a, b, prefix))
}

/// The devices of `user` that `node` counts online, and the commands it took.
async fn online(node: &Cluster, proxy: &CutProxy, user: &str) -> (usize, u64) {
    proxy.arm(u64::MAX);
    let scope = Scope::users([user]);
    let count = |core: &mut pqcall_signaling::Core| Ok((core.online_devices(user), Vec::new()));
    (
        node.transact(scope, None, count).await.unwrap(),
        proxy.commands(),
    )
}

#[tokio::test]
async fn fresh_copies_spare_the_load_and_stale_ones_never_decide() {
    let Some((proxy, a, b, _)) = two_nodes("copies").await else {
        return;
    };

    // The first look loads and commits; the next one, on fresh copies, only commits.
    assert_eq!(online(&a, &proxy, "ann").await, (0, 2));
    assert_eq!(online(&a, &proxy, "ann").await, (0, 1));

    // Another node connects ann, so a's copy is stale: a's commit is refused, and the
    // rerun on the records that came back with the refusal commits.
    b.open_stream(now_ms(), "ann", None, 1).await.unwrap();
    assert_eq!(online(&a, &proxy, "ann").await, (1, 2));
    assert_eq!(online(&a, &proxy, "ann").await, (1, 1));

    // What a writes itself, its copies keep.
    proxy.arm(u64::MAX);
    a.open_stream(now_ms(), "ann", None, 2).await.unwrap();
    assert_eq!(proxy.commands(), 1);
    assert_eq!(online(&a, &proxy, "ann").await, (2, 1));

    // A refusal on a stale copy is not the answer: the records in Redis decide.
    b.open_stream(now_ms(), "ann", None, 3).await.unwrap();
    proxy.arm(u64::MAX);
    let three = a.transact(Scope::users(["ann"]), None, |core| {
        match core.online_devices("ann") {
            3 => Ok(((), Vec::new())),
            n => Err(Error::Unavailable(format!("{n} online"))),
        }
    });
    three.await.unwrap();
    // The load and the commit; the copy's refusal cost no command.
    assert_eq!(proxy.commands(), 2);
}

#[tokio::test]
async fn the_rate_is_charged_once_whether_the_records_were_copies_or_loaded() {
    let Some((proxy, a, b, _)) = two_nodes("copies-rate").await else {
        return;
    };

    // One request a second, two at once; each opens a device of ann's.
    let open = || {
        a.transact_charged(Scope::users(["ann"]), ("ann", (1, 2), 1), |core| {
            let (connected, out) = core.connect(now_ms(), "ann", None, false);
            Ok((connected.conn_id, out))
        })
    };
    // Loaded (charged by the load), then on copies (charged by the commit).
    proxy.arm(u64::MAX);
    open().await.unwrap();
    assert_eq!(proxy.commands(), 2);
    proxy.arm(u64::MAX);
    open().await.unwrap();
    assert_eq!(proxy.commands(), 1);
    // The third is over the rate: refused by the commit, and nothing changed.
    let refused = open().await;
    assert!(
        matches!(refused, Err(Error::RateLimited { .. })),
        "{refused:?}"
    );
    assert_eq!(online(&b, &proxy, "ann").await.0, 2);
    // Over the rate, a request the copies would refuse is refused for the rate first,
    // as the load would (the rate before anything about the records).
    let refused = a.transact_charged(Scope::users(["ann"]), ("ann", (1, 2), 1), |_| {
        Err::<((), _), _>(Error::Unavailable("the records say no".into()))
    });
    let refused = refused.await;
    assert!(
        matches!(refused, Err(Error::RateLimited { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_version_is_never_given_twice_even_when_redis_loses_its_counter() {
    let Some((proxy, a, b, prefix)) = two_nodes("copies-lost").await else {
        return;
    };
    b.open_stream(now_ms(), "ann", None, 1).await.unwrap();
    assert_eq!(online(&a, &proxy, "ann").await.0, 1);
    // Redis loses everything under the prefix (a restart without persistence), and
    // then ann opens two streams: had the counter started again at 1, the second
    // write's version would be the one a's copy holds, and a would count 1.
    let mut redis = redis::Client::open(format!("redis://{REDIS}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut redis)
        .await
        .unwrap();
    b.open_stream(now_ms(), "ann", None, 2).await.unwrap();
    b.open_stream(now_ms(), "ann", None, 3).await.unwrap();
    assert_eq!(online(&a, &proxy, "ann").await, (2, 2));
}
