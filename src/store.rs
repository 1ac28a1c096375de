//! Chat storage behind a trait. The embedded default keeps history in memory; SQLite
//! and PostgreSQL implementations plug in here.

use std::collections::HashMap;
use std::sync::Mutex;

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
    /// Stores a message unless one with the same `(conversation, from, client_msg_id)`
    /// exists; returns the stored message and whether it was inserted now.
    async fn insert_message(&self, m: &NewMessage) -> Result<(Message, bool), Error>;
    /// Up to `limit` messages older than `before` (newest when `None`), oldest first,
    /// and whether older ones exist.
    async fn load(
        &self,
        conversation_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), Error>;
}

#[derive(Default)]
struct Mem {
    convs: HashMap<String, Conversation>,
    messages: HashMap<String, Vec<Message>>,
    by_key: HashMap<(String, String, String), Message>,
    next_id: u64,
}

/// History in process memory (lost on restart).
#[derive(Default)]
pub struct MemoryStore(Mutex<Mem>);

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Mem> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Message ids are zero-padded so they sort as text.
fn message_id(n: u64) -> String {
    format!("{n:016}")
}

#[async_trait::async_trait]
impl ChatStore for MemoryStore {
    async fn create_conversation(&self, conv: &Conversation) -> Result<(), Error> {
        self.lock().convs.insert(conv.id.clone(), conv.clone());
        Ok(())
    }

    async fn conversation(&self, id: &str) -> Result<Option<Conversation>, Error> {
        Ok(self.lock().convs.get(id).cloned())
    }

    async fn add_member(&self, id: &str, user: &str) -> Result<(), Error> {
        let mut m = self.lock();
        let conv = m.convs.get_mut(id).ok_or(Error::UnknownConversation)?;
        if !conv.members.iter().any(|x| x == user) {
            conv.members.push(user.to_owned());
        }
        Ok(())
    }

    async fn insert_message(&self, n: &NewMessage) -> Result<(Message, bool), Error> {
        let mut m = self.lock();
        let key = (
            n.conversation_id.clone(),
            n.from.clone(),
            n.client_msg_id.clone(),
        );
        if let Some(existing) = m.by_key.get(&key) {
            return Ok((existing.clone(), false));
        }
        m.next_id += 1;
        let msg = Message {
            id: message_id(m.next_id),
            conversation_id: n.conversation_id.clone(),
            from: n.from.clone(),
            body: n.body.clone(),
            client_msg_id: n.client_msg_id.clone(),
            created_at: n.created_at,
        };
        m.by_key.insert(key, msg.clone());
        m.messages
            .entry(n.conversation_id.clone())
            .or_default()
            .push(msg.clone());
        Ok((msg, true))
    }

    async fn load(
        &self,
        conversation_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), Error> {
        let m = self.lock();
        let all = m.messages.get(conversation_id).map_or(&[][..], |v| &v[..]);
        let end = match before {
            Some(b) => all.partition_point(|x| x.id.as_str() < b),
            None => all.len(),
        };
        let start = end.saturating_sub(limit);
        Ok((all[start..end].to_vec(), start > 0))
    }
}
