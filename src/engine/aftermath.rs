//! What a decision of the core leaves for the chat store (docs/PROTOCOL.md §9): a call
//! that reached its final state goes into both parties' call history, and a user's
//! presence change becomes `presence.changed` for their contacts. One node keeps the
//! call before it delivers the call's final event (a client that reloads its history on
//! that event finds the call); a cluster keeps it once the decision committed, before it
//! answers the request. Presence changes go out after the decision's own effects.

use pqcall_signaling::activity::{CallRecord, presence_changed};
use pqcall_signaling::{Event, Output};

use crate::store::{ChatStore, MAX_CONTACTS};

/// Stores finished calls and turns presence changes into ephemeral `presence.changed`
/// events for the user's contacts, which it returns for the engine to deliver. A store
/// failure is logged (the call history misses that call; presence is asked again by
/// clients whenever their stream opens).
pub(crate) async fn settle(store: &dyn ChatStore, later: Vec<Output>) -> Vec<Output> {
    let mut events = Vec::new();
    for o in later {
        match o {
            Output::CallFinished(call) => record(store, &call).await,
            Output::Presence { user, online } => match store.contacts(&user, MAX_CONTACTS).await {
                Ok(contacts) => events.extend(presence_changed(&user, online, &contacts)),
                Err(e) => tracing::warn!(error = %e, "presence change not sent"),
            },
            other => events.push(other),
        }
    }
    events
}

/// How long keeping a call in the history may take: one node does it holding the
/// core's lock, so a stalled store must not stall every decision.
const RECORD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Keeps `call` in both parties' history; a failure or a store slower than
/// [`RECORD_TIMEOUT`] is logged (that call is missing from the history; the call itself
/// is unaffected).
pub(crate) async fn record(store: &dyn ChatStore, call: &CallRecord) {
    match tokio::time::timeout(RECORD_TIMEOUT, store.record_call(call)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(call = %call.call_id, error = %e, "call history not stored"),
        Err(_) => {
            tracing::error!(call = %call.call_id, "call history not stored: the store timed out")
        }
    }
}

/// The users whose presence `events` announce.
#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
pub(crate) fn presence_subjects(events: &[Output]) -> Vec<String> {
    let mut users: Vec<String> = events
        .iter()
        .filter_map(|o| match o {
            Output::Ephemeral {
                event: Event::PresenceChanged(p),
                ..
            } => Some(p.user_id.clone()),
            _ => None,
        })
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Drops the presence changes that a later decision already reversed (a reconnect as
/// the grace period ended): contacts see where the user stands now, which `online`
/// tells (whether a user has connections, open or in their grace period).
pub(crate) fn still_true(events: Vec<Output>, online: impl Fn(&str) -> bool) -> Vec<Output> {
    let current = |o: &Output| match o {
        Output::Ephemeral {
            event: Event::PresenceChanged(p),
            ..
        } => online(&p.user_id) == p.online,
        _ => true,
    };
    events.into_iter().filter(current).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pqcall_signaling::event::PresenceChanged;

    /// `presence.changed` for `to`: `user` is now `online`.
    fn change(to: &str, user: &str, online: bool) -> Output {
        let event = Event::PresenceChanged(PresenceChanged {
            user_id: user.into(),
            online,
        });
        Output::Ephemeral {
            user: to.into(),
            event,
        }
    }

    /// Both engines filter what [`settle`] made with [`still_true`] once the decision's
    /// lock is released (one node asks its core, a cluster Redis): what reached the
    /// store as "offline" may have been reversed by a reconnect in between.
    #[test]
    fn a_presence_change_a_later_decision_reversed_is_not_sent() {
        let events = vec![
            // Bob's grace ended, and he reconnected before his contacts were told.
            change("alice", "bob", false),
            change("dave", "bob", false),
            // Carol left and stayed away; Erin came and stayed.
            change("alice", "carol", false),
            change("alice", "erin", true),
            // Anything else goes through untouched.
            Output::Presence {
                user: "frank".into(),
                online: true,
            },
        ];
        assert_eq!(presence_subjects(&events), ["bob", "carol", "erin"]);
        let now_online = |user: &str| matches!(user, "bob" | "erin");
        assert_eq!(
            still_true(events, now_online),
            [
                change("alice", "carol", false),
                change("alice", "erin", true),
                Output::Presence {
                    user: "frank".into(),
                    online: true
                },
            ]
        );
    }
}
