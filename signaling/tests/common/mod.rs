//! A tiny simulated shell: drives the core with simulated time, records deliveries
//! per connection and fires timers in order.
#![allow(dead_code)]

use std::collections::BTreeMap;

use pqcall_signaling::api::*;
use pqcall_signaling::{
    Audience, Core, CoreConfig, Event, Output, SequentialIds, Timer, Valid, Validate,
};

pub const T0: u64 = 1_700_000_000_000;

/// A request the test means to be well-formed, checked as a shell checks it.
pub fn v<T: Validate>(req: T) -> Valid<T> {
    Valid::new(req).expect("a well-formed request")
}

pub fn kem_offer() -> OfferKemBody {
    let (_, offer) = pqcall_crypto::Caller::start().unwrap();
    OfferKemBody {
        suite: "ML-KEM-768".into(),
        ek: offer.ek_b64(),
        commit: offer.commit_b64(),
    }
}

pub fn b64(n: usize) -> String {
    pqcall_crypto::wire::encode(&vec![7u8; n])
}

pub fn offer_to(to: &str) -> OfferRequest {
    OfferRequest {
        to: to.into(),
        sdp: "v=0\r\n".into(),
        kem: kem_offer(),
    }
}

pub fn answer(call_id: &str) -> AnswerRequest {
    AnswerRequest {
        call_id: call_id.into(),
        sdp: "v=0\r\n".into(),
        kem: AnswerKemBody { ct: b64(1088) },
    }
}

pub fn confirm(call_id: &str, caller: bool) -> ConfirmRequest {
    ConfirmRequest {
        call_id: call_id.into(),
        kem: ConfirmKemBody {
            nonce: caller.then(|| b64(32)),
            tag: b64(32),
        },
    }
}

pub fn ice(call_id: &str, n: usize) -> IceRequest {
    IceRequest {
        call_id: call_id.into(),
        candidates: (0..n)
            .map(|i| IceCandidate {
                candidate: format!(
                    "candidate:{i} 1 udp 2122260223 127.0.0.1 {} typ host",
                    50000 + i
                )
                .into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: None,
            })
            .collect(),
        done: None,
    }
}

pub fn reason(call_id: &str) -> CallIdReason {
    CallIdReason {
        call_id: call_id.into(),
        reason: None,
    }
}

/// A delivered event as one connection sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub name: String,
    pub call_id: Option<String>,
    pub event: Event,
}

pub struct Sim {
    pub core: Core,
    pub now: u64,
    /// conn -> user
    pub conns: BTreeMap<String, String>,
    /// conn -> events it received
    pub inbox: BTreeMap<String, Vec<Seen>>,
    pub timers: Vec<(u64, Timer)>,
    /// Calls the core asked to keep in the call history, in order.
    pub finished: Vec<pqcall_signaling::activity::CallRecord>,
    /// Presence changes the core reported, in order.
    pub presence: Vec<(String, bool)>,
}

impl Sim {
    pub fn new(cfg: CoreConfig) -> Self {
        Sim {
            core: Core::with_ids(cfg, Box::new(SequentialIds::default())),
            now: T0,
            conns: BTreeMap::new(),
            inbox: BTreeMap::new(),
            timers: Vec::new(),
            finished: Vec::new(),
            presence: Vec::new(),
        }
    }

    pub fn connect(&mut self, user: &str) -> String {
        let (c, out) = self.core.connect(self.now, user, None, true);
        self.conns.insert(c.conn_id.clone(), user.into());
        self.inbox.entry(c.conn_id.clone()).or_default();
        self.perform(out);
        c.conn_id
    }

    pub fn perform(&mut self, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Deliver {
                    user,
                    audience,
                    event,
                } => self.fan_out(&user, Some(&audience), event),
                Output::Ephemeral { user, event } => self.fan_out(&user, None, event),
                Output::Timer { at, timer } => self.timers.push((at, timer)),
                Output::CallFinished(call) => self.finished.push(call),
                Output::Presence { user, online } => self.presence.push((user, online)),
            }
        }
    }

    fn fan_out(&mut self, user: &str, audience: Option<&Audience>, event: Event) {
        for (conn, u) in &self.conns {
            if u == user && audience.is_none_or(|a| a.includes(conn)) {
                self.inbox.get_mut(conn).unwrap().push(Seen {
                    name: event.name().to_owned(),
                    call_id: event.call_id().map(str::to_owned),
                    event: event.clone(),
                });
            }
        }
    }

    /// Advances time, firing due timers in order.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now + ms;
        loop {
            self.timers.sort_by_key(|(at, _)| *at);
            match self.timers.first() {
                Some((at, _)) if *at <= until => {
                    let (at, timer) = self.timers.remove(0);
                    self.now = at.max(self.now);
                    let out = self.core.on_timer(self.now, &timer);
                    self.perform(out);
                }
                _ => break,
            }
        }
        self.now = until;
    }

    pub fn names(&self, conn: &str) -> Vec<String> {
        self.inbox[conn].iter().map(|s| s.name.clone()).collect()
    }

    pub fn take(&mut self, conn: &str) -> Vec<String> {
        let v = self.names(conn);
        self.inbox.get_mut(conn).unwrap().clear();
        v
    }
}
