//! What a decision of the core leaves for the chat store (docs/PROTOCOL.md §9): a call
//! that reached its final state goes into both parties' call history, and a user's
//! presence change becomes `presence.changed` for their contacts. One node keeps the
//! call before it delivers the call's final event (a client that reloads its history on
//! that event finds the call); a cluster keeps it once the decision committed, before it
//! answers the request. Presence changes go out after the decision's own effects.

use pqcall_signaling::Output;
use pqcall_signaling::activity::{CallRecord, presence_changed};

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

/// Keeps `call` in both parties' history; a failure is logged (that call is missing
/// from the history; the call itself is unaffected).
pub(crate) async fn record(store: &dyn ChatStore, call: &CallRecord) {
    if let Err(e) = store.record_call(call).await {
        tracing::error!(call = %call.call_id, error = %e, "call history not stored");
    }
}
