//! The per-user event log behind one async interface (docs/PROTOCOL.md §3): the core's
//! [`MemoryLog`] on one node, the Redis log in a cluster. Both pass [`conformance`]
//! (feature `test-util`). The log's rules (ids, window, replay) are the core's
//! ([`pqcall_signaling::log`]); this trait only lets a backend wait on the network.

use pqcall_signaling::{Audience, Error, EventId, LoggedEvent, MemoryLog, Millis, Replay};

#[cfg(feature = "test-util")]
pub mod conformance;

/// A per-user event log shared by every node that serves the user.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync {
    /// Appends an event to `user`'s log and returns it with its new id; `None` when the
    /// user has no log: a log starts when its user opens a stream ([`replay`] or
    /// [`newest`]) and ends once every event left the window while nobody read it, so
    /// an event for a user who never connected costs nothing.
    ///
    /// [`replay`]: Self::replay
    /// [`newest`]: Self::newest
    async fn append(
        &self,
        user: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error>;

    /// Appends like [`append`](Self::append) unless `user`'s log already took an event
    /// under the same `key` within its age window (or there is no log); then it appends
    /// nothing and returns `None`. A retried request uses it to finish an interrupted fan-out exactly once.
    async fn append_once(
        &self,
        user: &str,
        key: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error>;

    /// Everything after `after` that connection `conn` sees, or a reset. Starts the
    /// user's log if there is none.
    async fn replay(
        &self,
        user: &str,
        after: &str,
        conn: &str,
        now: Millis,
    ) -> Result<Replay, Error>;

    /// The newest id of `user`'s log (`<epoch>-0` for an empty one). Starts the user's
    /// log if there is none.
    async fn newest(&self, user: &str) -> Result<EventId, Error>;
}

/// The embedded log never fails and never waits.
#[async_trait::async_trait]
impl EventLog for MemoryLog {
    async fn append(
        &self,
        user: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error> {
        Ok(MemoryLog::append(self, user, audience, name, data, now))
    }

    async fn append_once(
        &self,
        user: &str,
        key: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error> {
        Ok(MemoryLog::append_once(
            self, user, key, audience, name, data, now,
        ))
    }

    async fn replay(
        &self,
        user: &str,
        after: &str,
        conn: &str,
        now: Millis,
    ) -> Result<Replay, Error> {
        Ok(MemoryLog::replay(self, user, after, conn, now))
    }

    async fn newest(&self, user: &str) -> Result<EventId, Error> {
        Ok(MemoryLog::newest(self, user))
    }
}
