//! History in process memory.

use std::collections::HashMap;
use std::sync::Mutex;

use pqcall_signaling::Error;
use pqcall_signaling::api::Message;
use pqcall_signaling::chat::{Conversation, NewMessage};

use super::{ChatStore, message_id, parse_message_id};

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

#[async_trait::async_trait]
impl ChatStore for MemoryStore {
    async fn create_conversation(&self, conv: &Conversation) -> Result<(), Error> {
        self.lock().convs.insert(conv.id.clone(), conv.clone());
        Ok(())
    }

    async fn conversation(&self, id: &str) -> Result<Option<Conversation>, Error> {
        Ok(self.lock().convs.get(id).cloned())
    }

    async fn created_by(&self, user: &str) -> Result<u64, Error> {
        let m = self.lock();
        Ok(m.convs.values().filter(|c| c.created_by == user).count() as u64)
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
            Some(b) => {
                let b = message_id(parse_message_id(b)?);
                all.partition_point(|x| x.id < b)
            }
            None => all.len(),
        };
        let start = end.saturating_sub(limit);
        Ok((all[start..end].to_vec(), start > 0))
    }
}
