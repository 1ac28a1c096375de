//! History in process memory.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use pqcall_signaling::Error;
use pqcall_signaling::activity::{CallHistoryEntry, CallRecord, ConversationSummary};
use pqcall_signaling::api::Message;
use pqcall_signaling::chat::{Conversation, NewMessage};

use super::{ActivityStore, ChatStore, MAX_UNREAD, message_id, parse_message_id};

#[derive(Default)]
struct Mem {
    convs: HashMap<String, Conversation>,
    messages: HashMap<String, Vec<Message>>,
    by_key: HashMap<(String, String, String), Message>,
    next_id: u64,
    /// Each conversation's activity number (see the SQL migrations).
    activity: HashMap<String, u64>,
    next_activity: u64,
    /// Read markers by (conversation, user): a message id.
    reads: HashMap<(String, String), String>,
    /// Call history by user, in the order calls finished.
    calls: HashMap<String, Vec<CallHistoryEntry>>,
}

impl Mem {
    fn bump(&mut self, conv: &str) {
        self.next_activity += 1;
        self.activity.insert(conv.to_owned(), self.next_activity);
    }

    fn summary(&self, conv: &Conversation, user: &str) -> ConversationSummary {
        let all = self.messages.get(&conv.id).map_or(&[][..], |v| &v[..]);
        let marker = self.reads.get(&(conv.id.clone(), user.to_owned()));
        let unread = all
            .iter()
            .filter(|m| m.from != user && marker.is_none_or(|r| m.id > *r))
            .take(MAX_UNREAD as usize)
            .count();
        ConversationSummary::of(conv.clone(), all.last().cloned(), unread as u64)
    }

    fn shares(&self, a: &str, b: &str) -> bool {
        self.convs
            .values()
            .any(|c| c.is_member(a) && c.is_member(b))
    }
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
        let mut m = self.lock();
        m.convs.insert(conv.id.clone(), conv.clone());
        m.bump(&conv.id);
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
        m.bump(&n.conversation_id);
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

#[async_trait::async_trait]
impl ActivityStore for MemoryStore {
    async fn list(
        &self,
        user: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ConversationSummary>, bool), Error> {
        let m = self.lock();
        let mut mine: Vec<(u64, &Conversation)> = m
            .convs
            .values()
            .filter(|c| c.is_member(user))
            .map(|c| (m.activity.get(&c.id).copied().unwrap_or(0), c))
            .collect();
        mine.sort_by(|a, b| (b.0, &b.1.id).cmp(&(a.0, &a.1.id)));
        let start = match before {
            None => 0,
            Some(id) => {
                let at = mine.iter().position(|(_, c)| c.id == id);
                at.ok_or_else(super::sql_activity::bad_cursor)? + 1
            }
        };
        let page: Vec<_> = mine
            .iter()
            .skip(start)
            .take(limit)
            .map(|(_, c)| m.summary(c, user))
            .collect();
        Ok((page, mine.len() > start + limit))
    }

    async fn mark_read(
        &self,
        conversation_id: &str,
        user: &str,
        message_id: &str,
    ) -> Result<bool, Error> {
        let mut m = self.lock();
        let known = m
            .messages
            .get(conversation_id)
            .is_some_and(|all| all.iter().any(|x| x.id == message_id));
        if !known {
            let why = "not a message of this conversation";
            return Err(Error::invalid("message_id", why));
        }
        let key = (conversation_id.to_owned(), user.to_owned());
        if m.reads.get(&key).is_some_and(|r| r.as_str() >= message_id) {
            return Ok(false);
        }
        m.reads.insert(key, message_id.to_owned());
        Ok(true)
    }

    async fn contacts(&self, user: &str, limit: usize) -> Result<Vec<String>, Error> {
        let m = self.lock();
        let mut seen = HashSet::new();
        let all = m.convs.values().filter(|c| c.is_member(user));
        let others = all.flat_map(|c| c.members.iter()).filter(|u| *u != user);
        Ok(others
            .filter(|u| seen.insert(u.as_str()))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn shares_with(&self, user: &str, users: &[String]) -> Result<HashSet<String>, Error> {
        let m = self.lock();
        let shared = users.iter().filter(|u| *u != user && m.shares(user, u));
        Ok(shared.cloned().collect())
    }

    async fn record_call(&self, call: &CallRecord) -> Result<(), Error> {
        let mut m = self.lock();
        for (owner, entry) in call.entries() {
            let list = m.calls.entry(owner.to_owned()).or_default();
            if !list.iter().any(|e| e.call_id == entry.call_id) {
                list.push(entry);
            }
        }
        Ok(())
    }

    async fn call_history(
        &self,
        user: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<CallHistoryEntry>, bool), Error> {
        let m = self.lock();
        let all = m.calls.get(user).map_or(&[][..], |v| &v[..]);
        let end = match before {
            None => all.len(),
            Some(id) => all
                .iter()
                .position(|e| e.call_id == id)
                .ok_or_else(super::sql_activity::bad_cursor)?,
        };
        let start = end.saturating_sub(limit);
        Ok((all[start..end].iter().rev().cloned().collect(), start > 0))
    }
}
