//! [`Core`]: connections, calls and typing state, driven by requests and timers with
//! the time passed in, answering with [`Output`]s for the shell to perform.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::api::{
    AnswerRequest, CallIdReason, CallStateResponse, ConfirmRequest, IceRequest, OfferRequest,
    OfferResponse, PublishRequest,
};
use crate::calls::{Call, CallState, Role};
use crate::chat::Conversation;
use crate::error::Error;
use crate::event::{CallAnswer, CallConfirm, CallIce, CallNotice, CallOffer, Event, Typing};
use crate::ids::{IdSource, Millis, RandomIds, check_user_id, is_server_id};
use crate::log::Audience;
use crate::output::{Output, Timer, deliver};

/// Limits and timeouts of the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreConfig {
    /// Ring timeout (docs/PROTOCOL.md §5 default 45 s).
    pub ring_timeout_ms: u64,
    /// How long an answered call may take to become `active` (§5, default 30 s).
    pub handshake_timeout_ms: u64,
    /// How long a connection id survives with no stream (default 30 s).
    pub conn_grace_ms: u64,
    /// How long a typing start lasts without another.
    pub typing_ttl_ms: u64,
    /// Ringing calls one caller may have at once.
    pub max_ringing_per_caller: usize,
    /// Offers one user may make per minute.
    pub offers_per_minute: usize,
    /// Candidates the caller may send before the callee answers.
    pub max_pending_candidates: usize,
    /// How long a finished call is remembered (requests get 409, then 404).
    pub forget_after_ms: u64,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            ring_timeout_ms: 45_000,
            handshake_timeout_ms: 30_000,
            conn_grace_ms: 30_000,
            typing_ttl_ms: 5_000,
            max_ringing_per_caller: 4,
            offers_per_minute: 30,
            max_pending_candidates: 200,
            forget_after_ms: 5 * 60_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Conn {
    pub(crate) user: String,
    /// Open streams using this id (a reconnect may overlap the old stream's close).
    pub(crate) streams: u32,
    /// Bumped on every connect and disconnect, so stale grace timers do nothing.
    pub(crate) generation: u64,
}

/// The result of [`Core::connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The connection id for `hello`.
    pub conn_id: String,
    /// True when the requested id was given back.
    pub reused: bool,
}

/// The signaling core. One per process in the embedded setup.
pub struct Core {
    cfg: CoreConfig,
    ids: Box<dyn IdSource>,
    pub(crate) conns: HashMap<String, Conn>,
    pub(crate) conns_by_user: HashMap<String, BTreeSet<String>>,
    pub(crate) calls: HashMap<String, Call>,
    /// Ringing call ids by caller, and by callee, in offer order.
    pub(crate) ringing_from: HashMap<String, Vec<String>>,
    pub(crate) ringing_to: HashMap<String, Vec<String>>,
    pub(crate) offer_times: HashMap<String, VecDeque<Millis>>,
    /// Calls not yet final, by participant (caller and callee).
    pub(crate) live_calls: HashMap<String, BTreeSet<String>>,
    /// Active typing indicators: generation and the members to tell when it expires.
    typing: HashMap<(String, String), (u64, Vec<String>)>,
    typing_generation: u64,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("conns", &self.conns.len())
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

fn remove_id(map: &mut HashMap<String, Vec<String>>, key: &str, id: &str) {
    if let Some(v) = map.get_mut(key) {
        v.retain(|x| x != id);
        if v.is_empty() {
            map.remove(key);
        }
    }
}

impl Core {
    /// A core with random ids.
    pub fn new(cfg: CoreConfig) -> Self {
        Self::with_ids(cfg, Box::new(RandomIds::default()))
    }

    /// A core with the given id source (tests use [`crate::SequentialIds`]).
    pub fn with_ids(cfg: CoreConfig, ids: Box<dyn IdSource>) -> Self {
        Core {
            cfg,
            ids,
            conns: HashMap::new(),
            conns_by_user: HashMap::new(),
            calls: HashMap::new(),
            ringing_from: HashMap::new(),
            ringing_to: HashMap::new(),
            offer_times: HashMap::new(),
            live_calls: HashMap::new(),
            typing: HashMap::new(),
            typing_generation: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    /// A fresh random id (conversations use it too).
    pub fn new_id(&mut self) -> String {
        self.ids.next_id()
    }

    // ---- connections -------------------------------------------------------------

    /// A stream opens for `user`. `want` is the connection id the device had; it is
    /// given back when it belongs to `user` and its grace period has not run out.
    /// `fresh` is true when nothing was replayed to this stream (no last event id, or
    /// a reset): then offers still ringing for `user` are delivered to it.
    pub fn connect(
        &mut self,
        _now: Millis,
        user: &str,
        want: Option<&str>,
        fresh: bool,
    ) -> (Connected, Vec<Output>) {
        let reusable = want.and_then(|c| {
            let conn = self.conns.get_mut(c).filter(|conn| conn.user == user)?;
            conn.streams += 1;
            conn.generation += 1;
            Some(c)
        });
        let (conn_id, reused) = match reusable {
            Some(c) => (c.to_owned(), true),
            None => {
                let id = self.ids.next_id();
                self.conns.insert(
                    id.clone(),
                    Conn {
                        user: user.to_owned(),
                        streams: 1,
                        generation: 0,
                    },
                );
                self.conns_by_user
                    .entry(user.to_owned())
                    .or_default()
                    .insert(id.clone());
                (id, false)
            }
        };
        let out = if fresh {
            self.pending_offers(user, &conn_id)
        } else {
            Vec::new()
        };
        tracing::debug!(user, conn = %conn_id, reused, "stream connected");
        (Connected { conn_id, reused }, out)
    }

    /// Offers still ringing for `user`, delivered to connection `conn` alone: for a
    /// stream that had nothing replayed (a new device, or after a reset).
    pub fn pending_offers(&self, user: &str, conn: &str) -> Vec<Output> {
        self.ringing_to
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.calls.get(id))
            .map(|call| {
                deliver(
                    user,
                    Audience::Only(conn.to_owned()),
                    Event::CallOffer(call.offer.clone()),
                )
            })
            .collect()
    }

    /// A stream of connection `conn` closed. When it was the last one, the grace
    /// period starts.
    pub fn disconnect(&mut self, now: Millis, conn_id: &str) -> Vec<Output> {
        let Some(conn) = self.conns.get_mut(conn_id) else {
            return Vec::new();
        };
        conn.streams = conn.streams.saturating_sub(1);
        if conn.streams > 0 {
            return Vec::new();
        }
        conn.generation += 1;
        vec![Output::Timer {
            at: now + self.cfg.conn_grace_ms,
            timer: Timer::ConnGrace {
                user: conn.user.clone(),
                conn: conn_id.to_owned(),
                generation: conn.generation,
            },
        }]
    }

    /// 403 `forbidden` unless `conn` is a connection of `user`.
    pub fn check_conn(&self, user: &str, conn: &str) -> Result<(), Error> {
        match self.conns.get(conn) {
            Some(c) if c.user == user => Ok(()),
            Some(_) => Err(Error::Forbidden("that connection belongs to another user")),
            None => Err(Error::Forbidden("unknown connection")),
        }
    }

    /// How many of `user`'s connections have an open stream.
    pub fn online_devices(&self, user: &str) -> usize {
        self.conns_by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter(|c| self.conns.get(*c).is_some_and(|c| c.streams > 0))
            .count()
    }

    /// Known connection ids (open or in their grace period).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    // ---- calls ----------------------------------------------------------------------

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

    fn lookup(&self, call_id: &str) -> Result<&Call, Error> {
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
        req: &OfferRequest,
    ) -> Result<(OfferResponse, Vec<Output>), Error> {
        // 3 shape
        req.validate()?;
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
                offer,
                pending_ice: Vec::new(),
                pending_candidates: 0,
                caller_confirmed: false,
                callee_confirmed: false,
            },
        );
        let devices = self.online_devices(&req.to);
        tracing::debug!(call = %call_id, devices, "call offered");
        Ok((OfferResponse { call_id, devices }, out))
    }

    /// Moves a call to a final state and schedules forgetting it.
    fn finish(&mut self, now: Millis, call_id: &str, state: CallState, out: &mut Vec<Output>) {
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
        out.push(Output::Timer {
            at: now + self.cfg.forget_after_ms,
            timer: Timer::ForgetCall(call_id.to_owned()),
        });
        tracing::debug!(call = %call_id, state = state.as_str(), "call finished");
    }

    fn state_response(&self, call_id: &str) -> CallStateResponse {
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
        req: &AnswerRequest,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        req.validate()?;
        let call = self.ringing_for_callee(user, conn, &req.call_id, "the call is not ringing")?;
        let call_id = call.id.clone();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return Err(Error::UnknownCall);
        };
        call.callee_conn = Some(conn.to_owned());
        call.state = CallState::Connecting;
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
    fn ringing_for_callee(
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
    fn role(&self, user: &str, conn: &str, call_id: &str) -> Result<Role, Error> {
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
        req: &ConfirmRequest,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        req.validate()?;
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
        req: &IceRequest,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        req.validate()?;
        let role = self.role(user, conn, &req.call_id)?;
        let max_pending = self.cfg.max_pending_candidates;
        let Some(call) = self.calls.get_mut(&req.call_id) else {
            return Err(Error::UnknownCall);
        };
        let ice = CallIce {
            call_id: req.call_id.clone(),
            candidates: req.candidates.clone(),
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
        req: &CallIdReason,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        req.validate()?;
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
        req: &CallIdReason,
    ) -> Result<(CallStateResponse, Vec<Output>), Error> {
        req.validate()?;
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

    // ---- timers ---------------------------------------------------------------------

    /// A timer the core scheduled has come due.
    pub fn on_timer(&mut self, now: Millis, timer: &Timer) -> Vec<Output> {
        let mut out = Vec::new();
        match timer {
            Timer::RingTimeout(call_id) => {
                let Some(call) = self.calls.get(call_id) else {
                    return out;
                };
                if call.state != CallState::Ringing {
                    return out;
                }
                let notice = Event::CallMissed(CallNotice {
                    call_id: call_id.clone(),
                    reason: None,
                });
                out.push(deliver(
                    &call.caller,
                    Audience::Only(call.caller_conn.clone()),
                    notice.clone(),
                ));
                out.push(deliver(&call.callee, Audience::All, notice));
                self.finish(now, call_id, CallState::Missed, &mut out);
            }
            Timer::HandshakeTimeout(call_id) => {
                let Some(call) = self.calls.get(call_id) else {
                    return out;
                };
                if call.state != CallState::Connecting {
                    return out;
                }
                let notice = Event::CallEnded(CallNotice {
                    call_id: call_id.clone(),
                    reason: Some("handshake_timeout".into()),
                });
                out.push(deliver(
                    &call.caller,
                    Audience::Only(call.caller_conn.clone()),
                    notice.clone(),
                ));
                if let Some(conn) = &call.callee_conn {
                    out.push(deliver(&call.callee, Audience::Only(conn.clone()), notice));
                }
                tracing::debug!(call_id, "handshake timed out");
                self.finish(now, call_id, CallState::Ended, &mut out);
            }
            Timer::ConnGrace {
                conn, generation, ..
            } => {
                let expired = self
                    .conns
                    .get(conn)
                    .is_some_and(|c| c.streams == 0 && c.generation == *generation);
                if expired {
                    self.drop_conn(now, conn, &mut out);
                }
            }
            Timer::TypingExpire {
                conversation_id,
                user,
                generation,
            } => {
                let key = (conversation_id.clone(), user.clone());
                if self.typing.get(&key).is_some_and(|(g, _)| g == generation) {
                    if let Some((_, members)) = self.typing.remove(&key) {
                        out.extend(typing_to_others(conversation_id, &members, user, false));
                    }
                }
            }
            Timer::ForgetCall(call_id) => {
                if self.calls.get(call_id).is_some_and(|c| c.state.is_final()) {
                    self.calls.remove(call_id);
                }
            }
        }
        out
    }

    /// A connection's grace period ran out: forget it and end its calls.
    fn drop_conn(&mut self, now: Millis, conn: &str, out: &mut Vec<Output>) {
        let Some(c) = self.conns.remove(conn) else {
            return;
        };
        if let Some(set) = self.conns_by_user.get_mut(&c.user) {
            set.remove(conn);
            if set.is_empty() {
                self.conns_by_user.remove(&c.user);
            }
        }
        let bound: Vec<(String, Role)> = self
            .live_calls
            .get(&c.user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.calls.get(id))
            .filter_map(|call| call.role_of(&c.user, conn).map(|r| (call.id.clone(), r)))
            .collect();
        for (call_id, role) in bound {
            let Some(call) = self.calls.get(&call_id) else {
                continue;
            };
            let notice = Event::CallEnded(CallNotice {
                call_id: call_id.clone(),
                reason: Some("connection_lost".into()),
            });
            let state = if call.state == CallState::Ringing {
                out.push(deliver(&call.callee, Audience::All, notice));
                CallState::Canceled
            } else {
                let (peer, peer_conn) = call.peer_of(role);
                out.push(deliver(
                    peer,
                    Audience::Only(peer_conn.unwrap_or_default().to_owned()),
                    notice,
                ));
                CallState::Ended
            };
            self.finish(now, &call_id, state, out);
        }
        tracing::debug!(conn, "connection expired");
    }

    // ---- typing -----------------------------------------------------------------------

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

/// `POST /api/server/publish`: an app-defined event through every recipient's log.
pub fn publish(req: &PublishRequest) -> Result<Vec<Output>, Error> {
    req.validate()?;
    let mut users: Vec<&String> = req.users.iter().collect();
    users.sort();
    users.dedup();
    Ok(users
        .into_iter()
        .map(|u| {
            deliver(
                u,
                Audience::All,
                Event::App {
                    name: req.event.clone(),
                    data: req.data.clone(),
                },
            )
        })
        .collect())
}

/// Validates a user id from a token's `sub`.
pub fn check_subject(sub: &str) -> Result<(), Error> {
    check_user_id("sub", sub)
        .map_err(|_| Error::Unauthorized("the token's subject is not a valid user id".into()))
}
