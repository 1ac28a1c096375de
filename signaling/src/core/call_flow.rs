//! Calls: offer, answer, confirm, ICE, decline and end (docs/PROTOCOL.md §4-§5).

use std::sync::Arc;

use crate::activity::CallRecord;
use crate::api::{
    AnswerRequest, CallIdReason, CallStateResponse, ConfirmRequest, IceRequest, OfferRequest,
    OfferResponse,
};
use crate::calls::{Call, CallState, Role};
use crate::error::Error;
use crate::event::{CallAnswer, CallConfirm, CallIce, CallNotice, CallOffer, Event};
use crate::ids::{Millis, is_server_id};
use crate::log::Audience;
use crate::output::{Output, Timer, deliver};
use crate::valid::Valid;

use super::{Core, remove_id};

impl Core {
    /// A call, if it is known.
    pub fn call(&self, call_id: &str) -> Option<&Call> {
        self.calls.get(call_id)
    }

    /// The ringing calls `user` made, oldest first.
    pub fn call_ids_ringing_from(&self, user: &str) -> Vec<String> {
        self.ringing_from.get(user).cloned().unwrap_or_default()
    }

    /// How many known calls are in each state.
    pub fn calls_by_state(&self) -> Vec<(CallState, usize)> {
        CallState::ALL
            .iter()
            .map(|s| (*s, self.calls.values().filter(|c| c.state == *s).count()))
            .collect()
    }

    pub(super) fn lookup(&self, call_id: &str) -> Result<&Call, Error> {
        if !is_server_id(call_id) {
            return Err(Error::UnknownCall);
        }
        self.calls.get(call_id).ok_or(Error::UnknownCall)
    }

    /// `POST /api/calls/offer` from `user`'s connection `conn`.
    pub fn offer(
        &mut self,
        now: Millis,
        user: &str,
        conn: &str,
        req: &Valid<OfferRequest>,
    ) -> Result<(OfferResponse, Vec<Output>), Error> {
        if req.to == user {
            return Err(Error::invalid("to", "you cannot call yourself"));
        }
        // 4 rate
        // Read-only until every check passed: a refused request changes nothing.
        let recent: Vec<Millis> = self
            .offer_times
            .get(user)
            .into_iter()
            .flatten()
            .copied()
            .filter(|t| t + 60_000 > now)
            .collect();
        if recent.len() >= self.cfg.offers_per_minute {
            let oldest = recent.first().copied().unwrap_or(now);
            return Err(Error::RateLimited {
                what: "offers per minute",
                retry_after_secs: (oldest + 60_000 - now).div_ceil(1000).max(1),
            });
        }
        let ringing = self.ringing_from.get(user).map_or(&[][..], |v| &v[..]);
        if ringing.len() >= self.cfg.max_ringing_per_caller {
            let first = ringing
                .first()
                .and_then(|id| self.calls.get(id))
                .map_or(now, |c| c.ring_deadline);
            return Err(Error::RateLimited {
                what: "ringing calls",
                retry_after_secs: first.saturating_sub(now).div_ceil(1000).max(1),
            });
        }
        // 6 permission
        self.check_conn(user, conn)?;
        // 7 state: glare
        if let Some(existing) = self
            .ringing_from
            .get(&req.to)
            .into_iter()
            .flatten()
            .find(|id| self.calls.get(*id).is_some_and(|c| c.callee == user))
        {
            return Err(Error::Glare {
                call_id: existing.clone(),
            });
        }

        let call_id = self.ids.next_id();
        let deadline = now + self.cfg.ring_timeout_ms;
        let offer = CallOffer {
            call_id: call_id.clone(),
            from: user.to_owned(),
            sdp: req.sdp.clone(),
            kem: req.kem.clone(),
            expires_at: deadline.div_ceil(1000),
        };
        let times = self.offer_times.entry(user.to_owned()).or_default();
        while times.front().is_some_and(|t| t + 60_000 <= now) {
            times.pop_front();
        }
        times.push_back(now);
        self.ringing_from
            .entry(user.to_owned())
            .or_default()
            .push(call_id.clone());
        self.ringing_to
            .entry(req.to.clone())
            .or_default()
            .push(call_id.clone());
        for u in [user, req.to.as_str()] {
            self.live_calls
                .entry(u.to_owned())
                .or_default()
                .insert(call_id.clone());
        }
        let out = vec![
            deliver(&req.to, Audience::All, Event::CallOffer(offer.clone())),
            Output::Timer {
                at: deadline,
                timer: Timer::RingTimeout(call_id.clone()),
            },
        ];
        self.calls.insert(
            call_id.clone(),
            Call {
                id: call_id.clone(),
                caller: user.to_owned(),
                caller_conn: conn.to_owned(),
                callee: req.to.clone(),
                callee_conn: None,
                state: CallState::Ringing,
                ring_deadline: deadline,
                started_at: now,
                answered_at: None,
                offer: Some(offer),
                pending_ice: Vec::new(),
                pending_candidates: 0,
                caller_confirmed: false,
                callee_confirmed: false,
                update_times: Vec::new(),
                pending_update: None,
            },
        );
        let devices = self.online_devices(&req.to);
        tracing::debug!(call = %call_id, devices, "call offered");
        Ok((OfferResponse { call_id, devices }, out))
    }

    /// Moves a call to a final state and schedules forgetting it.
    pub(super) fn finish(
        &mut self,
        now: Millis,
        call_id: &str,
        state: CallState,
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        if call.state == CallState::Ringing {
            remove_id(&mut self.ringing_from, &call.caller, call_id);
            remove_id(&mut self.ringing_to, &call.callee, call_id);
        }
        for u in [&call.caller, &call.callee] {
            if let Some(set) = self.live_calls.get_mut(u) {
                set.remove(call_id);
                if set.is_empty() {
                    self.live_calls.remove(u);
                }
            }
        }
        call.state = state;
        call.pending_ice.clear();
        call.offer = None;
        let ids = (call.id.as_str(), call.caller.as_str(), call.callee.as_str());
        let times = (call.started_at, call.answered_at, now);
        out.push(Output::CallFinished(CallRecord::new(ids, state, times)));
        out.push(Output::Timer {
            at: now + self.cfg.forget_after_ms,
            timer: Timer::ForgetCall(call_id.to_owned()),
        });
        tracing::debug!(call = %call_id, state = state.as_str(), "call finished");
    }

    pub(super) fn state_response(&self, call_id: &str) -> CallStateResponse {
        CallStateResponse {
            call_id: call_id.to_owned(),
            state: self
                .calls
                .get(call_id)
                .map_or(CallState::Ended, |c| c.state),
        }
    }

    /// `POST /api/calls/answer`
    pub fn answer(
        &mut self,
        now: Millis,
        user: &str,
        conn: &str,
        req: &Valid<AnswerRequest>,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        let call = self.ringing_for_callee(user, conn, &req.call_id, "the call is not ringing")?;
        let call_id = call.id.clone();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return Err(Error::UnknownCall);
        };
        call.callee_conn = Some(conn.to_owned());
        call.state = CallState::Connecting;
        call.answered_at = Some(now);
        call.offer = None;
        let mut out = vec![
            deliver(
                &call.caller,
                Audience::Only(call.caller_conn.clone()),
                Event::CallAnswer(CallAnswer {
                    call_id: call_id.clone(),
                    sdp: req.sdp.clone(),
                    kem: req.kem.clone(),
                }),
            ),
            deliver(
                user,
                Audience::Except(conn.to_owned()),
                Event::CallAnsweredElsewhere(CallNotice {
                    call_id: call_id.clone(),
                    reason: None,
                }),
            ),
        ];
        call.pending_candidates = 0;
        for ice in call.pending_ice.drain(..) {
            out.push(deliver(
                user,
                Audience::Only(conn.to_owned()),
                Event::CallIce(ice),
            ));
        }
        out.push(Output::Timer {
            at: now + self.cfg.handshake_timeout_ms,
            timer: Timer::HandshakeTimeout(call_id.clone()),
        });
        let (caller, callee) = (call.caller.clone(), call.callee.clone());
        remove_id(&mut self.ringing_from, &caller, &call_id);
        remove_id(&mut self.ringing_to, &callee, &call_id);
        Ok((self.state_response(&call_id), out))
    }

    /// A ringing call that `user`'s connection `conn` may answer or decline: 404, 403
    /// (another user's connection; not the callee), 409 (no longer ringing).
    pub(super) fn ringing_for_callee(
        &self,
        user: &str,
        conn: &str,
        call_id: &str,
        not_ringing: &'static str,
    ) -> Result<&Call, Error> {
        let call = self.lookup(call_id)?;
        self.check_conn(user, conn)?;
        if call.callee != user {
            return Err(Error::NotAParticipant);
        }
        if call.state != CallState::Ringing {
            return Err(Error::InvalidState(not_ringing));
        }
        Ok(call)
    }

    /// Finds the role of a request on a call: 404, 403 or, for a callee acting before
    /// it answered, 409.
    pub(super) fn role(&self, user: &str, conn: &str, call_id: &str) -> Result<Role, Error> {
        let call = self.lookup(call_id)?;
        self.check_conn(user, conn)?;
        if let Some(role) = call.role_of(user, conn) {
            return Ok(role);
        }
        if user == call.callee && call.callee_conn.is_none() && call.state == CallState::Ringing {
            return Err(Error::InvalidState("the call has not been answered"));
        }
        Err(Error::NotAParticipant)
    }

    /// `POST /api/calls/confirm`
    pub fn confirm(
        &mut self,
        _now: Millis,
        user: &str,
        conn: &str,
        req: &Valid<ConfirmRequest>,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        let role = self.role(user, conn, &req.call_id)?;
        match (role, &req.kem.nonce) {
            (Role::Caller, None) => return Err(Error::MissingField("kem.nonce".into())),
            (Role::Callee, Some(_)) => {
                return Err(Error::invalid("kem.nonce", "only the caller sends a nonce"));
            }
            _ => {}
        }
        let Some(call) = self.calls.get_mut(&req.call_id) else {
            return Err(Error::UnknownCall);
        };
        if call.state != CallState::Connecting {
            return Err(Error::InvalidState(
                "confirms are sent while the call is connecting",
            ));
        }
        match role {
            Role::Caller if call.caller_confirmed => {
                return Err(Error::InvalidState("already confirmed"));
            }
            Role::Callee if call.callee_confirmed => {
                return Err(Error::InvalidState("already confirmed"));
            }
            Role::Callee if !call.caller_confirmed => {
                return Err(Error::InvalidState("the caller confirms first"));
            }
            Role::Caller => call.caller_confirmed = true,
            Role::Callee => call.callee_confirmed = true,
        }
        if call.caller_confirmed && call.callee_confirmed {
            call.state = CallState::Active;
        }
        let (peer, peer_conn) = call.peer_of(role);
        let out = vec![deliver(
            peer,
            Audience::Only(peer_conn.unwrap_or_default().to_owned()),
            Event::CallConfirm(CallConfirm {
                call_id: req.call_id.clone(),
                kem: req.kem.clone(),
            }),
        )];
        Ok((self.state_response(&req.call_id), out))
    }

    /// `POST /api/calls/ice`
    pub fn ice(
        &mut self,
        _now: Millis,
        user: &str,
        conn: &str,
        req: &Valid<IceRequest>,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        let role = self.role(user, conn, &req.call_id)?;
        let max_pending = self.cfg.max_pending_candidates;
        let Some(call) = self.calls.get_mut(&req.call_id) else {
            return Err(Error::UnknownCall);
        };
        let ice = CallIce {
            call_id: req.call_id.clone(),
            candidates: Arc::clone(&req.candidates),
            done: req.done.unwrap_or(false),
        };
        let out = match call.state {
            CallState::Ringing => {
                // Only the caller has a bound connection while ringing.
                if call.pending_candidates + req.candidates.len() > max_pending {
                    return Err(Error::RateLimited {
                        what: "candidates before the answer",
                        retry_after_secs: 1,
                    });
                }
                call.pending_candidates += req.candidates.len();
                call.pending_ice.push(ice);
                Vec::new()
            }
            CallState::Connecting | CallState::Active => {
                let (peer, peer_conn) = call.peer_of(role);
                vec![deliver(
                    peer,
                    Audience::Only(peer_conn.unwrap_or_default().to_owned()),
                    Event::CallIce(ice),
                )]
            }
            _ => return Err(Error::InvalidState("the call has ended")),
        };
        Ok((self.state_response(&req.call_id), out))
    }

    /// `POST /api/calls/decline`
    pub fn decline(
        &mut self,
        now: Millis,
        user: &str,
        conn: &str,
        req: &Valid<CallIdReason>,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        let call = self.ringing_for_callee(
            user,
            conn,
            &req.call_id,
            "only a ringing call can be declined",
        )?;
        let mut out = vec![
            deliver(
                &call.caller,
                Audience::Only(call.caller_conn.clone()),
                Event::CallDeclined(CallNotice {
                    call_id: call.id.clone(),
                    reason: req.reason.clone(),
                }),
            ),
            deliver(
                user,
                Audience::Except(conn.to_owned()),
                Event::CallEnded(CallNotice {
                    call_id: call.id.clone(),
                    reason: Some("declined".into()),
                }),
            ),
        ];
        self.finish(now, &req.call_id, CallState::Declined, &mut out);
        Ok((self.state_response(&req.call_id), out))
    }

    /// `POST /api/calls/end`
    pub fn end(
        &mut self,
        now: Millis,
        user: &str,
        conn: &str,
        req: &Valid<CallIdReason>,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        let role = match self.role(user, conn, &req.call_id) {
            Err(Error::InvalidState(_)) => {
                return Err(Error::InvalidState("decline a ringing call instead"));
            }
            r => r?,
        };
        let call = self.lookup(&req.call_id)?;
        let mut out = Vec::new();
        let state = match (call.state, role) {
            (CallState::Ringing, Role::Caller) => {
                out.push(deliver(
                    &call.callee,
                    Audience::All,
                    Event::CallEnded(CallNotice {
                        call_id: call.id.clone(),
                        reason: Some("canceled".into()),
                    }),
                ));
                CallState::Canceled
            }
            (CallState::Connecting | CallState::Active, role) => {
                let (peer, peer_conn) = call.peer_of(role);
                out.push(deliver(
                    peer,
                    Audience::Only(peer_conn.unwrap_or_default().to_owned()),
                    Event::CallEnded(CallNotice {
                        call_id: call.id.clone(),
                        reason: Some(req.reason.clone().unwrap_or_else(|| "hangup".into())),
                    }),
                ));
                CallState::Ended
            }
            _ => return Err(Error::InvalidState("the call has ended")),
        };
        self.finish(now, &req.call_id, state, &mut out);
        Ok((self.state_response(&req.call_id), out))
    }
}
