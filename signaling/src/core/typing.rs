//! Typing: throttled ephemeral events to the other members of a conversation.

use crate::chat::Conversation;
use crate::error::Error;
use crate::event::{Event, Typing};
use crate::ids::Millis;
use crate::output::{Output, Timer};

use super::Core;

impl Core {
    /// `POST /api/typing/start` (`active`) or `/stop`. Typing events are ephemeral and
    /// go to the other members; a start expires by itself after `typing_ttl_ms`.
    pub fn typing(
        &mut self,
        now: Millis,
        user: &str,
        conv: &Conversation,
        active: bool,
    ) -> Result<Vec<Output>, Error> {
        conv.check_member(user)?;
        let key = (conv.id.clone(), user.to_owned());
        let was_active = self.typing.contains_key(&key);
        let mut out = Vec::new();
        if active {
            self.typing_generation += 1;
            let generation = self.typing_generation;
            self.typing.insert(key, (generation, conv.members.clone()));
            out.push(Output::Timer {
                at: now + self.cfg.typing_ttl_ms,
                timer: Timer::TypingExpire {
                    conversation_id: conv.id.clone(),
                    user: user.to_owned(),
                    generation,
                },
            });
        } else {
            self.typing.remove(&key);
        }
        if active != was_active {
            out.extend(typing_to_others(&conv.id, &conv.members, user, active));
        }
        Ok(out)
    }
}

/// The ephemeral `typing` event to every member but `user`.
pub fn typing_to_others(
    conversation_id: &str,
    members: &[String],
    user: &str,
    active: bool,
) -> Vec<Output> {
    members
        .iter()
        .filter(|m| *m != user)
        .map(|m| Output::Ephemeral {
            user: m.clone(),
            event: Event::Typing(Typing {
                conversation_id: conversation_id.to_owned(),
                user_id: user.to_owned(),
                active,
            }),
        })
        .collect()
}
