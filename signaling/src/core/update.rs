//! `POST /api/calls/update` (docs/PROTOCOL.md §4): a new offer or answer inside an
//! active call, for an ICE restart when the network changes or for renegotiation. Only
//! the call's two bound connections may send one, only while it is `active`, at most
//! [`UPDATES_PER_MINUTE`] a minute per call; each goes to the other bound connection as
//! `call.update`. One offer at a time: an answer must answer the other side's pending
//! offer (409 `invalid_state` otherwise), and when both sides offer at once the callee's
//! offer loses (409 `glare`; a caller's offer supersedes the callee's, which the callee
//! rolls back). The clients check that the new SDP keeps the DTLS fingerprint the
//! handshake bound, so the safety code stays valid.

use crate::api::SdpKind;
use crate::api::{CallStateResponse, UpdateRequest};
use crate::calls::{CallState, Role};
use crate::error::Error;
use crate::event::{CallUpdate, Event};
use crate::ids::Millis;
use crate::log::Audience;
use crate::output::{Output, deliver};
use crate::valid::Valid;

use super::Core;

/// Updates one call may relay per minute.
pub const UPDATES_PER_MINUTE: usize = 10;

impl Core {
    /// `POST /api/calls/update`
    pub fn update(
        &mut self,
        now: Millis,
        user: &str,
        conn: &str,
        req: &Valid<UpdateRequest>,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        let role = self.role(user, conn, &req.call_id)?;
        let Some(call) = self.calls.get_mut(&req.call_id) else {
            return Err(Error::UnknownCall);
        };
        if call.state != CallState::Active {
            return Err(Error::InvalidState("updates are for active calls"));
        }
        let recent = |t: &Millis| now.saturating_sub(*t) < 60_000;
        if call.update_times.iter().filter(|t| recent(t)).count() >= UPDATES_PER_MINUTE {
            return Err(Error::RateLimited {
                what: "updates per call per minute",
                retry_after_secs: 60,
            });
        }
        let other = match role {
            Role::Caller => Role::Callee,
            Role::Callee => Role::Caller,
        };
        match (req.kind, role, call.pending_update) {
            (SdpKind::Offer, Role::Callee, Some(Role::Caller)) => {
                return Err(Error::Glare {
                    call_id: req.call_id.clone(),
                });
            }
            (SdpKind::Offer, _, _) => call.pending_update = Some(role),
            (SdpKind::Answer, _, Some(pending)) if pending == other => call.pending_update = None,
            (SdpKind::Answer, _, _) => {
                return Err(Error::InvalidState("no offer of the other side to answer"));
            }
        }
        call.update_times.retain(recent);
        call.update_times.push(now);
        let (peer, peer_conn) = call.peer_of(role);
        let event = Event::CallUpdate(CallUpdate {
            call_id: req.call_id.clone(),
            sdp: req.sdp.clone(),
            kind: req.kind,
        });
        let to = Audience::Only(peer_conn.unwrap_or_default().to_owned());
        let out = vec![deliver(peer, to, event)];
        Ok((self.state_response(&req.call_id), out))
    }
}
