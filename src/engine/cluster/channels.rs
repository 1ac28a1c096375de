//! Which live events reach this node: one pub/sub channel per user,
//! `{prefix}:ev:{user}`, subscribed while this node holds a stream of the user.
//!
//! A stream subscribes its user's channel (if no other stream here has) after it is
//! counted open and before it reads its replay, so every event logged after that read
//! arrives live; the last stream of a user to close here unsubscribes. So an event costs
//! Redis one copy per node that holds a stream of its user, and nothing on the others,
//! however many nodes there are.
//!
//! Changes are made one at a time (each waits for Redis's confirmation), but a change
//! waits in a queue rather than on its own: whoever next takes the turn subscribes every
//! user queued by then (up to [`BATCH`]) in one `SUBSCRIBE`, or unsubscribes every user
//! whose last stream here closed by then in one `UNSUBSCRIBE`. So when many streams open
//! or close at once (a node's clients coming back after it restarted, or a network
//! dropping them together), they share a few round trips instead of queueing one round
//! trip each, and a crowd leaving does not hold up a crowd arriving. A batch finishes in
//! a task of its own, so a caller that goes away mid-way cannot leave its batch changed
//! in Redis but not here.

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
    /// Users whose last stream here closed, waiting for a turn to be unsubscribed; taken
    /// by the caller whose turn it is.
    leaving: Mutex<HashSet<String>>,
    /// `SUBSCRIBE` commands sent (each for one or more channels).
    subscribes: AtomicU64,
    /// `UNSUBSCRIBE` commands sent (each for one or more channels).
    unsubscribes: AtomicU64,
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
            leaving: Mutex::new(HashSet::new()),
            subscribes: AtomicU64::new(0),
            unsubscribes: AtomicU64::new(0),
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

    /// `UNSUBSCRIBE` commands sent so far.
    #[cfg(test)]
    pub(crate) fn unsubscribes(&self) -> u64 {
        self.unsubscribes.load(Ordering::Relaxed)
    }

    /// Unsubscribes `user`'s channel if `hub` holds no stream of theirs any more; returns
    /// once Redis confirmed. Users whose last stream closed meanwhile are unsubscribed in
    /// the same command (the module comment).
    pub(crate) async fn release(&self, user: &str, hub: &Hub) {
        lock(&self.leaving).insert(user.to_owned());
        let mut state = self.state.clone().lock_owned().await;
        // This caller's turn: every user queued to leave by then (its own, unless an
        // earlier turn took it) who still has no stream here and is subscribed.
        let users: Vec<String> = {
            let mut leaving = lock(&self.leaving);
            let taken: Vec<String> = leaving.iter().take(BATCH).cloned().collect();
            for u in &taken {
                leaving.remove(u);
            }
            taken
        };
        let users: Vec<String> = users
            .into_iter()
            .filter(|u| hub.streams_of(u) == 0 && state.users.remove(u))
            .collect();
        if users.is_empty() {
            return;
        }
        let channels: Vec<String> = users.iter().map(|u| Self::of(&self.prefix, u)).collect();
        self.unsubscribes.fetch_add(1, Ordering::Relaxed);
        // In a task of its own, as in `hold`: the users are no longer counted here, so the
        // command must go out whatever becomes of this caller.
        let batch = tokio::spawn(async move {
            let sent = state.sink.unsubscribe(channels);
            tokio::time::timeout(CONFIRM_TIMEOUT, sent).await
        });
        match batch.await {
            Ok(Ok(Ok(()))) => {}
            // The connection is broken (said once, by the relay, which replaces it and
            // ends every stream).
            Ok(Ok(Err(e))) => tracing::debug!(error = %e, "unsubscribing users' live channels"),
            Ok(Err(_)) | Err(_) => self.broken.notify_one(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Each of `users`' channels with how many connections Redis says receive it.
    async fn receivers(
        client: &redis::Client,
        prefix: &str,
        users: &[String],
    ) -> Vec<(String, i64)> {
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let names: Vec<String> = users.iter().map(|u| Channels::of(prefix, u)).collect();
        redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&names)
            .query_async(&mut con)
            .await
            .unwrap()
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
        let counts = receivers(&client, &prefix, &users).await;
        assert_eq!(counts.len(), 200);
        assert!(counts.iter().all(|(_, n)| *n == 1), "{counts:?}");
        assert!(lock(&channels.queued).is_empty(), "no one left queued");

        // A user already held costs nothing.
        channels.hold("u7").await.unwrap();
        assert_eq!(channels.subscribes(), 2);
    }

    /// Releases queued together share one `UNSUBSCRIBE`, and only users with no stream
    /// here left are unsubscribed.
    #[tokio::test]
    async fn releases_queued_together_share_one_unsubscribe() {
        let Some((channels, prefix, client, _live)) = on_redis().await else {
            return;
        };
        let users: Vec<String> = (0..200).map(|i| format!("u{i}")).collect();
        for held in futures_util::future::join_all(users.iter().map(|u| channels.hold(u))).await {
            held.unwrap();
        }
        let hub = Hub::new(Default::default(), Default::default());
        // One user keeps a stream here: it stays subscribed.
        let _queue = hub.subscribe(1, "u5", "c", 8);
        // As with holds, the first release takes the lock alone and the second turn takes
        // the other 199 (198 unsubscribed, u5 kept).
        let releases = users.iter().map(|u| channels.release(u, &hub));
        futures_util::future::join_all(releases).await;
        assert_eq!(channels.unsubscribes(), 2, "200 releases, two commands");

        let counts = receivers(&client, &prefix, &users).await;
        let subscribed: Vec<&str> = counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, _)| c.as_str())
            .collect();
        assert_eq!(subscribed, [Channels::of(&prefix, "u5")]);
        assert!(lock(&channels.leaving).is_empty(), "no one left queued");

        // Unsubscribed once its stream is gone.
        hub.unsubscribe("u5", 1);
        channels.release("u5", &hub).await;
        assert_eq!(channels.unsubscribes(), 3);
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
