//! Chat storage behind a trait: SQLite by default (a file, or in memory), process
//! memory for embedding and tests. PostgreSQL plugs in here for cluster mode.

#[cfg(feature = "test-util")]
pub mod conformance;
mod memory;
#[cfg(feature = "cluster")]
mod postgres;
mod sql;
mod sql_activity;
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "cluster")]
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use std::collections::HashSet;

use pqcall_signaling::Error;
use pqcall_signaling::activity::{CallHistoryEntry, CallRecord, ConversationSummary};
use pqcall_signaling::api::Message;
use pqcall_signaling::chat::{Conversation, NewMessage};

/// Where conversations and messages live.
#[async_trait::async_trait]
pub trait ChatStore: ActivityStore {
    /// Stores a new conversation.
    async fn create_conversation(&self, conv: &Conversation) -> Result<(), Error>;
    /// A conversation, if it exists.
    async fn conversation(&self, id: &str) -> Result<Option<Conversation>, Error>;
    /// Adds a member (idempotent).
    async fn add_member(&self, id: &str, user: &str) -> Result<(), Error>;
    /// How many conversations `user` created (for the per-user cap).
    async fn created_by(&self, user: &str) -> Result<u64, Error>;
    /// Stores a message unless one with the same `(conversation, from, client_msg_id)`
    /// exists; returns the stored message and whether it was inserted now. Returns
    /// only once the message is durable.
    async fn insert_message(&self, m: &NewMessage) -> Result<(Message, bool), Error>;
    /// Up to `limit` messages older than message id `before` (the newest when `None`),
    /// oldest first, and whether older ones exist.
    async fn load(
        &self,
        conversation_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), Error>;
}

/// What the chat store answers for docs/PROTOCOL.md §9: the conversations list with
/// unread counts, read markers, who shares a conversation with whom, call history.
#[async_trait::async_trait]
pub trait ActivityStore: Send + Sync {
    /// Up to `limit` of `user`'s conversations, most recent activity (creation or
    /// message) first, after conversation `before` (400 `invalid_field` when that is not
    /// one of theirs), each with its newest message and the other members' messages
    /// after `user`'s read marker (counted up to [`MAX_UNREAD`]); and whether more follow.
    async fn list(
        &self,
        user: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ConversationSummary>, bool), Error>;
    /// Moves `user`'s read marker in `conversation_id` forward to `message_id`; true
    /// when it moved (an older or equal id is a no-op). 400 `invalid_field` when the
    /// message is not one of the conversation's.
    async fn mark_read(
        &self,
        conversation_id: &str,
        user: &str,
        message_id: &str,
    ) -> Result<bool, Error>;
    /// Up to `limit` users who share a conversation with `user` (not `user`).
    async fn contacts(&self, user: &str, limit: usize) -> Result<Vec<String>, Error>;
    /// Which of `users` share a conversation with `user`.
    async fn shares_with(&self, user: &str, users: &[String]) -> Result<HashSet<String>, Error>;
    /// Keeps a finished call in both parties' call history (a second time: no-op).
    async fn record_call(&self, call: &CallRecord) -> Result<(), Error>;
    /// Up to `limit` of `user`'s calls, the last to finish first, after call `before`
    /// (400 `invalid_field` when that is not in their history); and whether more follow.
    async fn call_history(
        &self,
        user: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<CallHistoryEntry>, bool), Error>;
}

/// Unread counts stop here (a client shows "9999+").
pub const MAX_UNREAD: u64 = 9_999;

/// The most contacts one presence change is told to.
pub const MAX_CONTACTS: usize = 1_000;

/// One page of `rows` read with a limit of `limit + 1`: at most `limit` of them, and
/// whether more followed.
pub(crate) fn page<T>(mut rows: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    (rows, has_more)
}

pub use pqcall_signaling::message_id;

/// Parses a `before` cursor: 400 `invalid_field` unless it is a message id.
pub fn parse_message_id(s: &str) -> Result<u64, Error> {
    pqcall_signaling::parse_message_id("before", s)
}
