//! Which live events reach this node: one pub/sub channel per user,
//! `{prefix}:ev:{user}`, subscribed while this node holds a stream of the user.
//!
//! A stream subscribes its user's channel (if no other stream here has) after it is
//! counted open and before it reads its replay, so every event logged after that read
//! arrives live; the last stream of a user to close here unsubscribes. So an event costs
//! Redis one copy per node that holds a stream of its user, and nothing on the others,
//! however many nodes there are.
//!
//! Changes are made one at a time (each waits for Redis's confirmation), but a
//! subscription waits in a queue rather than on its own: whoever next takes the turn
//! subscribes every user queued by then (up to [`BATCH`]) in one `SUBSCRIBE`. So when
//! many streams open at once (a node's clients coming back after it restarted), they
//! share a few round trips instead of queueing one round trip each. A batch finishes in
//! a task of its own, so a caller that goes away mid-way cannot leave its batch
//! subscribed in Redis but not known here.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pqcall_signaling::Error;
use redis::aio::PubSubSink;

use super::log::unavailable;
use crate::hub::Hub;

/// How long Redis may take to confirm a subscription change. The pub/sub connection
/// has no response timeout of its own, and a half-open one would otherwise hold every
/// stream opening on this node.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);

/// Channels one `SUBSCRIBE` carries at most: Redis confirms them all within
/// [`CONFIRM_TIMEOUT`], and a crowd reconnecting at once is served in turns of this many.
const BATCH: usize = 1_000;

/// This node's subscriptions, changed one at a time (each waits for Redis's
/// confirmation, at most [`CONFIRM_TIMEOUT`]).
#[derive(Debug)]
pub(crate) struct Channels {
    prefix: String,
    state: Arc<tokio::sync::Mutex<State>>,
    /// Users waiting for their channel, with how many callers wait for each; taken as a
    /// whole by the caller whose turn it is.
    queued: Mutex<HashMap<String, usize>>,
    /// `SUBSCRIBE` commands sent (each for one or more channels).
    subscribes: AtomicU64,
    /// Told when a change was not confirmed in time: the relay then treats the
    /// connection as lost (ends every stream here and connects again).
    pub(crate) broken: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    /// The live connection's subscribing half.
    sink: PubSubSink,
    /// The users whose channel is subscribed.
    users: HashSet<String>,
}

impl Channels {
    /// Subscriptions through `sink`, for channels named after `prefix`.
    pub(crate) fn new(prefix: &str, sink: PubSubSink) -> Self {
        let state = State {
            sink,
            users: HashSet::new(),
        };
        Channels {
            prefix: prefix.to_owned(),
            state: Arc::new(tokio::sync::Mutex::new(state)),
            queued: Mutex::new(HashMap::new()),
            subscribes: AtomicU64::new(0),
            broken: tokio::sync::Notify::new(),
        }
    }

    /// The part of every channel's name before the user (commit.lua appends the user).
    pub(crate) fn stem(prefix: &str) -> String {
        format!("{prefix}:ev:")
    }

    /// The channel of `user`'s live events.
    pub(crate) fn of(prefix: &str, user: &str) -> String {
        Self::stem(prefix) + user
    }

    /// A new live connection (after the old one broke): nothing is subscribed on it.
    pub(crate) async fn replace(&self, sink: PubSubSink) {
        let mut state = self.state.lock().await;
        state.sink = sink;
        state.users.clear();
    }

    /// Subscribes `user`'s channel unless it is already; returns once Redis confirmed.
    /// Users queued meanwhile are subscribed in the same command (the module comment).
    pub(crate) async fn hold(&self, user: &str) -> Result<(), Error> {
        let queued = Queued::new(&self.queued, user);
        let mut state = self.state.clone().lock_owned().await;
        if state.users.contains(user) {
            return Ok(());
        }
        // This caller's turn: its user, then others queued and not yet subscribed.
        let mut users = vec![user.to_owned()];
        {
            let waiting = lock(&self.queued);
            let others = waiting
                .keys()
                .filter(|u| *u != user && !state.users.contains(*u));
            users.extend(others.take(BATCH - 1).cloned());
        }
        drop(queued);
        let channels: Vec<String> = users.iter().map(|u| Self::of(&self.prefix, u)).collect();
        self.subscribes.fetch_add(1, Ordering::Relaxed);
        // In a task of its own: a caller gone mid-way (its client left) must not leave the
        // batch subscribed in Redis and not counted here, where no release would undo it.
        let batch = tokio::spawn(async move {
            let sent = state.sink.subscribe(channels);
            let confirmed = tokio::time::timeout(CONFIRM_TIMEOUT, sent).await;
            if let Ok(Ok(())) = confirmed {
                state.users.extend(users);
            }
            confirmed
        });
        match batch.await {
            Ok(Ok(confirmed)) => confirmed.map_err(unavailable),
            // Not confirmed in time (or the runtime is stopping).
            Ok(Err(_)) | Err(_) => {
                self.broken.notify_one();
                let why = "live events are not reaching this node; try another";
                Err(Error::Unavailable(why.into()))
            }
        }
    }

    /// `SUBSCRIBE` commands sent so far.
    #[cfg(test)]
    pub(crate) fn subscribes(&self) -> u64 {
        self.subscribes.load(Ordering::Relaxed)
    }

    /// Unsubscribes `user`'s channel if `hub` holds no stream of theirs any more.
    pub(crate) async fn release(&self, user: &str, hub: &Hub) {
        let mut state = self.state.lock().await;
        if hub.streams_of(user) > 0 || !state.users.remove(user) {
            return;
        }
        let channel = Self::of(&self.prefix, user);
        match tokio::time::timeout(CONFIRM_TIMEOUT, state.sink.unsubscribe(channel)).await {
            Ok(Ok(())) => {}
            // The connection is broken (said once, by the relay, which replaces it and
            // ends every stream).
            Ok(Err(e)) => tracing::debug!(error = %e, "unsubscribing a user's live channel"),
            Err(_) => self.broken.notify_one(),
        }
    }
}

fn lock(
    queued: &Mutex<HashMap<String, usize>>,
) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
    queued.lock().unwrap_or_else(|p| p.into_inner())
}

/// A caller's place in [`Channels::hold`]'s queue, given up when it is dropped (done, or
/// its client gone): a user nobody waits for any more is not subscribed.
struct Queued<'a> {
    queued: &'a Mutex<HashMap<String, usize>>,
    user: &'a str,
}

impl<'a> Queued<'a> {
    fn new(queued: &'a Mutex<HashMap<String, usize>>, user: &'a str) -> Self {
        *lock(queued).entry(user.to_owned()).or_default() += 1;
        Queued { queued, user }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let mut queued = lock(self.queued);
        if let Some(n) = queued.get_mut(self.user) {
            *n -= 1;
            if *n == 0 {
                queued.remove(self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Channels` on its own pub/sub connection to the real Redis the cluster tests use,
    /// under a fresh prefix, with the client and what the test keeps until it ends (the
    /// connection's message half, its turn on Redis); `None`, saying so, when Redis does
    /// not answer.
    async fn on_redis() -> Option<(Channels, String, redis::Client, impl Sized)> {
        let turn = super::super::REDIS_TURN.read().await;
        let (client, nanos) = super::super::test_redis();
        let Ok(pubsub) = client.get_async_pubsub().await else {
            eprintln!("SKIPPED: Redis does not answer");
            return None;
        };
        let (sink, live) = pubsub.split();
        let prefix = format!("pqcall-channels-{nanos}");
        Some((Channels::new(&prefix, sink), prefix, client, (live, turn)))
    }

    /// Streams opening together share `SUBSCRIBE`s: the first takes its turn alone, and
    /// the next subscribes everyone who queued meanwhile.
    #[tokio::test]
    async fn holds_queued_together_share_one_subscribe() {
        let Some((channels, prefix, client, _live)) = on_redis().await else {
            return;
        };
        let users: Vec<String> = (0..200).map(|i| format!("u{i}")).collect();
        // `join_all` polls the holds in order (first in, first out): each queues its user
        // on its first poll, the first takes the lock alone, and its wake-up comes after
        // every other hold has queued, so the second turn takes the other 199.
        let holds = users.iter().map(|u| channels.hold(u));
        for held in futures_util::future::join_all(holds).await {
            held.unwrap();
        }
        assert_eq!(channels.subscribes(), 2, "200 holds, two commands");

        // Redis confirmed every one: this connection is each channel's one receiver.
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let names: Vec<String> = users.iter().map(|u| Channels::of(&prefix, u)).collect();
        let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&names)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(counts.len(), 200);
        assert!(counts.iter().all(|(_, n)| *n == 1), "{counts:?}");
        assert!(lock(&channels.queued).is_empty(), "no one left queued");

        // A user already held costs nothing.
        channels.hold("u7").await.unwrap();
        assert_eq!(channels.subscribes(), 2);
    }

    /// A caller that goes away while its batch is in flight (its client left) does not
    /// leave the batch subscribed in Redis and unknown here: the batch finishes, and the
    /// next hold of the user finds it held.
    #[tokio::test]
    async fn a_batch_outlives_a_caller_gone_mid_way() {
        let Some((channels, _prefix, _client, _live)) = on_redis().await else {
            return;
        };
        let mut hold = Box::pin(channels.hold("gone"));
        assert!(
            futures_util::poll!(hold.as_mut()).is_pending(),
            "sent, not confirmed"
        );
        drop(hold);
        channels.hold("gone").await.unwrap();
        assert_eq!(channels.subscribes(), 1, "no second command");
    }
}
