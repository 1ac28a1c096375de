//! Group commit: the commits (commit.lua) that a node's requests make while one batch is
//! gathered go to Redis as one pipeline, so that a busy node pays once per batch, not
//! once per request, for the trip through the redis crate's connection task, the write
//! to Redis's socket, and the read of the replies (and Redis reads one request, not
//! many). Each commit is still its own script, checked and applied on its own: a batch
//! changes how commits travel, not what they do.
//!
//! One task sends a node's batches, one pipeline at a time: the commits made while a
//! pipeline is in Redis go together in the next (Redis runs scripts one after another,
//! so a second pipeline in flight would only wait in its socket). The first commit to
//! find no task sending starts one; the task lets the requests that are ready to run go
//! first (`yield_now`), sends what is waiting, and goes on until it finds nothing
//! waiting. The task, not a request, sends the batch, so a request that goes away (its
//! client closed the connection) leaves the others' commits to go (its own still goes:
//! once it waits, a commit is sent, or fails unsent as below). A pipeline carries at
//! most [`MAX_BATCH`] commits.
//!
//! What waits is one commit per transaction in flight on the node (requests, and its
//! timer and stream-lease tasks), behind the pipelines ahead of it, each bounded by the
//! connection's response timeout. A pipeline that fails (Redis gone, or slower than that
//! timeout) fails every commit waiting too, unsent, so that a Redis that does not answer
//! costs a waiting commit one timeout, not one per pipeline ahead of it; a task that
//! ends any other way fails them as well. After Redis lost the script, the commits of a
//! pipeline it refused run on their own (loading it) before the next pipeline goes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pqcall_signaling::Error;
use redis::aio::ConnectionManager;
use redis::{RedisResult, Script, Value};
use tokio::sync::oneshot;

use super::log::unavailable;

/// The most commits in one pipeline, so that what it copies of their arguments stays
/// small.
const MAX_BATCH: usize = 256;

/// Runs commit.lua in batches.
pub(super) struct Commits {
    inner: Arc<Inner>,
}

struct Inner {
    script: Script,
    con: ConnectionManager,
    waiting: Mutex<Queue>,
    /// Batches sent so far.
    batches: AtomicU64,
}

/// The commits waiting, and whether a task is sending (it sends them next).
#[derive(Default)]
struct Queue {
    commits: Vec<Waiting>,
    sending: bool,
}

/// The task that sends a node's batches. It is made before it is spawned, so that
/// however it ends (it found nothing waiting; or a panic, or the runtime going away, even
/// before it first ran) no commit is left waiting for a task that is not there.
struct Sender {
    inner: Arc<Inner>,
    /// It stopped because nothing was waiting.
    done: bool,
}

impl Sender {
    /// Sends the commits waiting, one pipeline of at most [`MAX_BATCH`] at a time, until
    /// none is left; then the next commit to wait starts a task of its own.
    async fn run(mut self) {
        loop {
            // The requests that are ready to run commit into this batch first.
            tokio::task::yield_now().await;
            let batch: Vec<Waiting> = {
                let mut queue = self.inner.lock();
                let n = queue.commits.len().min(MAX_BATCH);
                queue.commits.drain(..n).collect()
            };
            self.inner.send(batch).await;
            let mut queue = self.inner.lock();
            if queue.commits.is_empty() {
                queue.sending = false;
                self.done = true;
                return;
            }
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Ended otherwise: the commits waiting fail now, unsent (their requests answer
        // 503), rather than wait for the next commit to start a task.
        let lost = {
            let mut queue = self.inner.lock();
            queue.sending = false;
            std::mem::take(&mut queue.commits)
        };
        drop(lost);
    }
}

/// A commit waiting for its batch: the script's arguments, and where its reply goes.
struct Waiting {
    args: Vec<u8>,
    data: Vec<String>,
    reply: oneshot::Sender<Result<Vec<Value>, Error>>,
}

impl Commits {
    /// Batches of `script` (commit.lua) over `con`.
    pub(super) fn new(script: Script, con: ConnectionManager) -> Self {
        let waiting = Mutex::new(Queue::default());
        Commits {
            inner: Arc::new(Inner {
                script,
                con,
                waiting,
                batches: AtomicU64::new(0),
            }),
        }
    }

    /// Runs the script on `args` (its JSON argument) and `data` (the events' data, the
    /// arguments after it) in the next batch; its reply.
    pub(super) async fn run(&self, args: Vec<u8>, data: Vec<String>) -> Result<Vec<Value>, Error> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.inner.lock();
            queue.commits.push(Waiting { args, data, reply });
            !std::mem::replace(&mut queue.sending, true)
        };
        if start {
            let inner = Arc::clone(&self.inner);
            tokio::spawn(Sender { inner, done: false }.run());
        }
        let lost = || Error::Unavailable("a commit's batch was lost".into());
        answer.await.unwrap_or_else(|_| Err(lost()))
    }

    /// Batches sent so far.
    #[cfg(test)]
    fn batches(&self) -> u64 {
        self.inner.batches.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere leaves a list of waiting commits, still whole.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `batch` as one pipeline, and each commit its reply.
    async fn send(&self, batch: Vec<Waiting>) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let mut pipe = redis::Pipeline::with_capacity(batch.len());
        pipe.ignore_errors();
        let hash = self.script.get_hash();
        for w in &batch {
            // Sized at once: the command holds a copy of every argument.
            let size = 64 + w.args.len() + w.data.iter().map(String::len).sum::<usize>();
            let mut cmd = redis::Cmd::with_capacity(4 + w.data.len(), size);
            cmd.arg("EVALSHA")
                .arg(hash)
                .arg(0)
                .arg(&w.args)
                .arg(&w.data);
            pipe.add_command(cmd);
        }
        let mut con = self.con.clone();
        let replies: RedisResult<Vec<RedisResult<Vec<Value>>>> = pipe.query_async(&mut con).await;
        let replies = match replies {
            Ok(replies) => replies,
            Err(e) => {
                // Redis is gone, or slower than the connection's response timeout: the
                // commits waiting fail at once, unsent, rather than one timeout each.
                let e = unavailable(e);
                let waiting = std::mem::take(&mut self.lock().commits);
                for w in batch.into_iter().chain(waiting) {
                    let _ = w.reply.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut replies = replies.into_iter();
        let mut missing = Vec::new();
        for w in batch {
            let reply = match replies.next() {
                Some(Ok(reply)) => Ok(reply),
                // Redis lost the script (a restart, a failover): run apart, below.
                Some(Err(e)) if e.code() == Some("NOSCRIPT") => {
                    missing.push(w);
                    continue;
                }
                Some(Err(e)) => Err(unavailable(e)),
                None => Err(Error::Unavailable("a commit went unanswered".into())),
            };
            // A request that went away has no one to tell.
            let _ = w.reply.send(reply);
        }
        // The others have their replies; these run together, each loading the script if
        // Redis still lacks it.
        let alone = missing.into_iter().map(|w| async move {
            let reply = self.one(&w).await;
            let _ = w.reply.send(reply);
        });
        futures_util::future::join_all(alone).await;
    }

    /// Runs one commit on its own, loading the script if Redis lacks it.
    async fn one(&self, w: &Waiting) -> Result<Vec<Value>, Error> {
        let mut con = self.con.clone();
        let mut invocation = self.script.arg(&w.args);
        let invocation = invocation.arg(&w.data).invoke_async(&mut con);
        invocation.await.map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use std::task::Poll;
    use std::time::Duration;

    use futures_util::future::Either;

    use super::*;

    /// The tests' script: it answers with its arguments; given `slowN` first, it keeps
    /// Redis busy for N µs before it does. `tag` (and the time) make it one Redis has not
    /// seen, so its first run finds it missing.
    fn script(tag: &str, nanos: u128) -> Script {
        Script::new(&format!(
            "-- {tag} {nanos}\nlocal us = tonumber(string.match(ARGV[1], '^slow(%d+)$'))\n\
             if us then local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] \
             repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - s > us end\n\
             return {{ARGV[1], #ARGV - 1}}"
        ))
    }

    /// Batches of [`script`] on the real Redis the cluster tests use, over a connection
    /// whose replies time out after `timeout_ms`, with the test's turn on Redis (kept
    /// until the test ends): shared, or alone for a test that keeps Redis busy. `None`,
    /// saying so, when Redis does not answer.
    async fn on_redis(tag: &str, alone: bool, timeout_ms: u64) -> Option<(Commits, impl Sized)> {
        let turn = if alone {
            Either::Right(super::super::REDIS_TURN.write().await)
        } else {
            Either::Left(super::super::REDIS_TURN.read().await)
        };
        let (client, nanos) = super::super::test_redis();
        let timeout = Duration::from_millis(timeout_ms);
        let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(timeout));
        let Ok(con) = client.get_connection_manager_with_config(config).await else {
            eprintln!("SKIPPED: Redis does not answer");
            return None;
        };
        Some((Commits::new(script(tag, nanos), con), turn))
    }

    /// Lets the sending task run until it has sent `n` pipelines in all.
    async fn until_sent(commits: &Commits, n: u64) {
        while commits.batches() < n {
            tokio::task::yield_now().await;
        }
    }

    fn text(v: &Value) -> String {
        match v {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }

    /// Commits made together go as one pipeline, and each gets its own reply: when Redis
    /// lacks the script (then each runs on its own, and the script is loaded), and when it
    /// has it.
    #[tokio::test]
    async fn commits_made_together_go_as_one_batch_each_with_its_reply() {
        let Some((commits, _turn)) = on_redis("together", false, 5000).await else {
            return;
        };
        for round in 1..=2 {
            let args = |i: usize| format!("r{round}c{i}");
            let runs = (0..50).map(|i| commits.run(args(i).into(), vec![String::new(); i % 3]));
            let replies = futures_util::future::join_all(runs).await;
            for (i, reply) in replies.into_iter().enumerate() {
                let reply = reply.unwrap();
                assert_eq!(text(&reply[0]), args(i));
                assert_eq!(reply[1], Value::Int((i % 3) as i64), "its own data");
            }
            assert_eq!(commits.batches(), round, "50 commits, one pipeline");
        }
    }

    /// More commits waiting than one pipeline carries go in as many as it takes, by the
    /// same task, each with its reply.
    #[tokio::test]
    async fn a_pipeline_carries_at_most_max_batch_commits() {
        let Some((commits, _turn)) = on_redis("many", false, 5000).await else {
            return;
        };
        commits.run(b"load".to_vec(), Vec::new()).await.unwrap();
        let n = MAX_BATCH + 44;
        let runs = (0..n).map(|i| commits.run(format!("m{i}").into(), Vec::new()));
        let replies = futures_util::future::join_all(runs).await;
        for (i, reply) in replies.into_iter().enumerate() {
            assert_eq!(text(&reply.unwrap()[0]), format!("m{i}"));
        }
        assert_eq!(commits.batches(), 3, "one to load, then {MAX_BATCH} and 44");
    }

    /// One pipeline at a time: the commits made while one is in Redis wait for its
    /// replies, then go together in the next, sent by the same task; once it found
    /// nothing waiting, the next commit starts another.
    #[tokio::test(flavor = "current_thread")]
    async fn commits_made_while_a_pipeline_is_out_go_together_in_the_next() {
        let Some((commits, _turn)) = on_redis("next", true, 5000).await else {
            return;
        };
        commits.run(b"load".to_vec(), Vec::new()).await.unwrap();
        // In Redis for 50 ms: long enough for a second pipeline to go out, were there one.
        let mut first = Box::pin(commits.run(b"slow50000".to_vec(), Vec::new()));
        assert!(futures_util::poll!(first.as_mut()).is_pending(), "queued");
        until_sent(&commits, 2).await;
        let runs = (0..50).map(|i| commits.run(format!("n{i}").into(), Vec::new()));
        let mut rest = Box::pin(futures_util::future::join_all(runs));
        assert!(futures_util::poll!(rest.as_mut()).is_pending(), "queued");
        until_sent(&commits, 3).await;
        let Poll::Ready(first) = futures_util::poll!(first.as_mut()) else {
            panic!("a second pipeline went out while the first was in Redis");
        };
        assert_eq!(text(&first.unwrap()[0]), "slow50000");
        for (i, reply) in rest.await.into_iter().enumerate() {
            assert_eq!(text(&reply.unwrap()[0]), format!("n{i}"));
        }
        assert_eq!(commits.batches(), 3, "the 50 together");
        let later = commits.run(b"later".to_vec(), Vec::new()).await.unwrap();
        assert_eq!(text(&later[0]), "later");
        assert_eq!(commits.batches(), 4);
    }

    /// A pipeline that outlives the connection's response timeout fails, and so do the
    /// commits waiting behind it, at once and unsent; then commits go as usual.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_pipeline_fails_the_commits_waiting_behind_it_unsent() {
        let Some((commits, _turn)) = on_redis("failed", true, 100).await else {
            return;
        };
        // A commit that goes through, however long Redis takes to get there (each try
        // that fails does so unsent, or as a whole pipeline: no change either way).
        let through = async |args: &str| {
            for _ in 0..100 {
                match commits.run(args.into(), Vec::new()).await {
                    Ok(reply) => return text(&reply[0]),
                    Err(Error::Unavailable(_)) => continue,
                    Err(e) => panic!("{e:?}"),
                }
            }
            panic!("Redis did not come back");
        };
        assert_eq!(through("load").await, "load");
        let sent = commits.batches();
        // In Redis for a second, ten times the connection's response timeout.
        let mut slow = Box::pin(commits.run(b"slow1000000".to_vec(), Vec::new()));
        assert!(futures_util::poll!(slow.as_mut()).is_pending(), "queued");
        until_sent(&commits, sent + 1).await;
        let behind = (0..5).map(|i| commits.run(format!("b{i}").into(), Vec::new()));
        let mut behind = Box::pin(futures_util::future::join_all(behind));
        assert!(futures_util::poll!(behind.as_mut()).is_pending(), "queued");
        if futures_util::poll!(slow.as_mut()).is_ready() {
            // This thread stalled past the timeout before the five queued: they went
            // in a pipeline of their own, and there is nothing to check.
            eprintln!("SKIPPED: the timeout came before the commits behind it");
            return;
        }
        let (slow, behind) = tokio::join!(slow, behind);
        assert!(matches!(slow, Err(Error::Unavailable(_))), "{slow:?}");
        for reply in behind {
            assert!(matches!(reply, Err(Error::Unavailable(_))), "{reply:?}");
        }
        assert_eq!(commits.batches(), sent + 1, "those behind were not sent");
        assert_eq!(through("after").await, "after");
    }

    /// A sending task that never ran (its runtime went away first) fails the commits
    /// waiting for it, and the next commit starts another.
    #[test]
    fn a_sender_gone_unrun_fails_the_commits_waiting_for_it() {
        let main = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let Some((commits, _turn)) = main.block_on(on_redis("unrun", false, 5000)) else {
            return;
        };
        let mut waiting = Box::pin(commits.run(b"waiting".to_vec(), Vec::new()));
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Queued, and its sender spawned on `other`, which then goes with it unrun.
        other.block_on(async { assert!(futures_util::poll!(waiting.as_mut()).is_pending()) });
        drop(other);
        // (A guard against a hang, not a measure: the answer is there at once.)
        let lost =
            main.block_on(async { tokio::time::timeout(Duration::from_secs(30), waiting).await });
        let lost = lost.expect("the commit was left waiting for a task that is gone");
        assert!(matches!(lost, Err(Error::Unavailable(_))), "{lost:?}");
        assert_eq!(commits.batches(), 0, "nothing was sent");
        let next = main.block_on(commits.run(b"next".to_vec(), Vec::new()));
        assert_eq!(text(&next.unwrap()[0]), "next");
    }

    /// A request that goes away after its commit joined a batch (its client left) takes
    /// neither the batch nor the other commits in it with it.
    #[tokio::test]
    async fn a_batch_outlives_a_request_gone_mid_way() {
        let Some((commits, _turn)) = on_redis("gone", false, 5000).await else {
            return;
        };
        let mut gone = Box::pin(commits.run(b"gone".to_vec(), Vec::new()));
        assert!(futures_util::poll!(gone.as_mut()).is_pending(), "queued");
        let stays = commits.run(b"stays".to_vec(), Vec::new());
        drop(gone);
        let reply = stays.await.unwrap();
        assert_eq!(text(&reply[0]), "stays");
        assert_eq!(commits.batches(), 1, "the same batch");
    }
}
