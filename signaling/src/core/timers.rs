//! Timers: ring timeouts, handshake timeouts, connection grace periods, typing expiry.

use crate::calls::{CallState, Role};
use crate::event::{CallNotice, Event};
use crate::ids::Millis;
use crate::log::Audience;
use crate::output::{Output, Timer, deliver};

use super::{Core, typing_to_others};

impl Core {
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
    pub(super) fn drop_conn(&mut self, now: Millis, conn: &str, out: &mut Vec<Output>) {
        let Some(c) = self.conns.remove(conn) else {
            return;
        };
        if let Some(set) = self.conns_by_user.get_mut(&c.user) {
            set.retain(|id| id != conn);
            if set.is_empty() {
                self.conns_by_user.remove(&c.user);
                out.push(Output::Presence {
                    user: c.user.clone(),
                    online: false,
                });
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
}
