//! Which live events reach this node: one pub/sub channel per user,
//! `{prefix}:ev:{user}`, subscribed while this node holds a stream of the user.
//!
//! A stream subscribes its user's channel (if no other stream here has) after it is
//! counted open and before it reads its replay, so every event logged after that read
//! arrives live; the last stream of a user to close here unsubscribes. So an event costs
//! Redis one copy per node that holds a stream of its user, and nothing on the others,
//! however many nodes there are.

use std::collections::HashSet;
use std::time::Duration;

use pqcall_signaling::Error;
use redis::aio::PubSubSink;

use super::log::unavailable;
use crate::hub::Hub;

/// How long Redis may take to confirm a subscription change. The pub/sub connection
/// has no response timeout of its own, and a half-open one would otherwise hold every
/// stream opening on this node.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);

/// This node's subscriptions, changed one at a time (each waits for Redis's
/// confirmation, at most [`CONFIRM_TIMEOUT`]).
#[derive(Debug)]
pub(crate) struct Channels {
    prefix: String,
    state: tokio::sync::Mutex<State>,
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
            state: tokio::sync::Mutex::new(state),
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
    pub(crate) async fn hold(&self, user: &str) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        if state.users.contains(user) {
            return Ok(());
        }
        let channel = Self::of(&self.prefix, user);
        match tokio::time::timeout(CONFIRM_TIMEOUT, state.sink.subscribe(channel)).await {
            Ok(confirmed) => confirmed.map_err(unavailable)?,
            Err(_) => {
                self.broken.notify_one();
                let why = "live events are not reaching this node; try another";
                return Err(Error::Unavailable(why.into()));
            }
        }
        state.users.insert(user.to_owned());
        Ok(())
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
