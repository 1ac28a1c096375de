//! Which live events reach this node: one pub/sub channel per user,
//! `{prefix}:ev:{user}`, subscribed while this node holds a stream of the user.
//!
//! A stream subscribes its user's channel (if no other stream here has) after it is
//! counted open and before it reads its replay, so every event logged after that read
//! arrives live; the last stream of a user to close here unsubscribes. So an event costs
//! Redis one copy per node that holds a stream of its user, and nothing on the others,
//! however many nodes there are.

use std::collections::HashSet;

use pqcall_signaling::Error;
use redis::aio::PubSubSink;

use super::log::unavailable;
use crate::hub::Hub;

/// This node's subscriptions, changed one at a time.
#[derive(Debug)]
pub(crate) struct Channels {
    prefix: String,
    state: tokio::sync::Mutex<State>,
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
        }
    }

    /// The channel of `user`'s live events.
    pub(crate) fn of(prefix: &str, user: &str) -> String {
        format!("{prefix}:ev:{user}")
    }

    /// The part of every channel's name before the user.
    pub(crate) fn stem(prefix: &str) -> String {
        format!("{prefix}:ev:")
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
        state.sink.subscribe(channel).await.map_err(unavailable)?;
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
        if let Err(e) = state.sink.unsubscribe(channel).await {
            // The connection is broken (said once, by the relay, which replaces it and
            // ends every stream).
            tracing::debug!(error = %e, "unsubscribing a user's live channel");
        }
    }
}
