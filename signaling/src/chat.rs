//! Chat rules (docs/PROTOCOL.md §4): conversations, membership, open vs invite-only joins,
//! who may read and write, idempotent sends. Pure functions over a [`Conversation`]
//! the shell loaded from its store; the shell stores what they describe.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::api::{CreateConversationRequest, Message, SendRequest};
use crate::error::Error;
use crate::event::{ConversationCreated, Event, MemberJoined, MessageNew};
use crate::ids::Millis;
use crate::log::Audience;
use crate::output::{Output, deliver};
use crate::valid::Valid;

/// A conversation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Its id.
    pub id: String,
    /// Optional title.
    pub title: Option<String>,
    /// Anyone may join.
    pub open: bool,
    /// Members, creator first, in joining order.
    pub members: Vec<String>,
    /// The creator.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: u64,
}

impl Conversation {
    /// Whether `user` is a member.
    pub fn is_member(&self, user: &str) -> bool {
        self.members.iter().any(|m| m == user)
    }

    /// 403 `forbidden` unless `user` is a member (who may read and write).
    pub fn check_member(&self, user: &str) -> Result<(), Error> {
        if self.is_member(user) {
            Ok(())
        } else {
            Err(Error::Forbidden("not a member of this conversation"))
        }
    }
}

/// Builds a new conversation and its `conversation.created` events.
pub fn create(
    now: Millis,
    creator: &str,
    id: String,
    req: &Valid<CreateConversationRequest>,
) -> Result<(Conversation, Vec<Output>), Error> {
    let mut members = vec![creator.to_owned()];
    for m in &req.members {
        if !members.contains(m) {
            members.push(m.clone());
        }
    }
    let conv = Conversation {
        id,
        title: req.title.clone(),
        open: req.open.unwrap_or(false),
        members,
        created_by: creator.to_owned(),
        created_at: now / 1000,
    };
    let event = Event::ConversationCreated(ConversationCreated {
        conversation_id: conv.id.clone(),
        title: conv.title.clone(),
        open: conv.open,
        members: conv.members.clone(),
        created_by: conv.created_by.clone(),
    });
    let outputs = to_members(&conv, &event);
    Ok((conv, outputs))
}

/// What a join does.
#[derive(Debug, Clone, PartialEq)]
pub enum Join {
    /// Already a member: a no-op.
    AlreadyMember,
    /// Store `user` as a member, then perform the outputs (to every member, the new one
    /// included).
    Add(Vec<Output>),
}

/// Decides a join: members no-op, anyone joins an open conversation, nobody else (403).
pub fn join(conv: &Conversation, user: &str) -> Result<Join, Error> {
    if conv.is_member(user) {
        return Ok(Join::AlreadyMember);
    }
    if !conv.open {
        return Err(Error::Forbidden("this conversation is invite-only"));
    }
    let mut after = conv.clone();
    after.members.push(user.to_owned());
    let event = Event::MemberJoined(MemberJoined {
        conversation_id: conv.id.clone(),
        user_id: user.to_owned(),
    });
    Ok(Join::Add(to_members(&after, &event)))
}

/// A message to store. The store assigns `id` (increasing per conversation) and
/// returns the first message stored under the same `(conversation, from,
/// client_msg_id)` instead of a second one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The conversation.
    pub conversation_id: String,
    /// The sender.
    pub from: String,
    /// Opaque text.
    pub body: String,
    /// Idempotency key.
    pub client_msg_id: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// Checks a send (shape, membership) and describes the message to store.
pub fn send(
    now: Millis,
    conv: &Conversation,
    user: &str,
    req: &Valid<SendRequest>,
) -> Result<NewMessage, Error> {
    conv.check_member(user)?;
    Ok(NewMessage {
        conversation_id: conv.id.clone(),
        from: user.to_owned(),
        body: req.body.clone(),
        client_msg_id: req.client_msg_id.clone(),
        created_at: now / 1000,
    })
}

/// The fan-out of a newly stored message. Call it only when the store inserted the
/// message (not for an idempotent retry), so a retry fans out nothing.
pub fn message_stored(conv: &Conversation, message: &Message) -> Vec<Output> {
    let event = Event::MessageNew(MessageNew {
        conversation_id: conv.id.clone(),
        message: Arc::new(message.clone()),
    });
    to_members(conv, &event)
}

fn to_members(conv: &Conversation, event: &Event) -> Vec<Output> {
    conv.members
        .iter()
        .map(|m| deliver(m, Audience::All, event.clone()))
        .collect()
}
