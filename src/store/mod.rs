//! Chat storage behind a trait: SQLite by default (a file, or in memory), process
//! memory for embedding and tests. PostgreSQL plugs in here for cluster mode.

#[cfg(feature = "test-util")]
pub mod conformance;
mod memory;
#[cfg(feature = "cluster")]
mod postgres;
mod sql;
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "cluster")]
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use pqcall_signaling::Error;
use pqcall_signaling::api::Message;
use pqcall_signaling::chat::{Conversation, NewMessage};

/// Where conversations and messages live.
#[async_trait::async_trait]
pub trait ChatStore: Send + Sync {
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

/// Message ids are a per-store sequence number, zero-padded so they also sort as text.
pub fn message_id(n: u64) -> String {
    format!("{n:016}")
}

/// Parses a `before` cursor: 400 `invalid_field` unless it is a message id.
pub fn parse_message_id(s: &str) -> Result<u64, Error> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("before", "not a message id"));
    }
    s.parse()
        .map_err(|_| Error::invalid("before", "not a message id"))
}
