//! The core's state as records that a shared store can hold, for running many nodes
//! on one state (cluster mode).
//!
//! The state splits into one [`UserRecord`] per user (connections, ringing lists, offer
//! times, calls not yet final) and one [`Call`] per call. A node loads the records a
//! request needs into an empty [`Core`], runs the request, and writes back what
//! [`Core::export`] gives, all or nothing. Which records a request needs is
//! [`Scope::closure_step`]: the users and calls it names, the live calls of those users,
//! and the users of all those calls. Every operation of the core reads and writes only
//! records inside that closure:
//!
//! | operation | seeds | touches |
//! |---|---|---|
//! | connect, disconnect, pending offers | the user | the user; its live calls and their users (a connect past the connection-id cap ends the longest-idle id's calls) |
//! | offer | caller, callee | both users; their ringing calls; the new call |
//! | answer, confirm, ice, update, decline, end | the user, the call | the call; caller and callee |
//! | ring timeout, forget | the call | the call; caller and callee |
//! | connection grace | the user | the user; its live calls; their other users |
//!
//! Typing indicators are not records: they are ephemeral and stay on the node that
//! saw them.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::calls::Call;
use crate::core::{Conn, Core};
use crate::ids::Millis;
use crate::output::Timer;

/// One user's part of the core's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Connection ids and their stream counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    conns: BTreeMap<String, ConnRecord>,
    /// Ringing calls this user made, in offer order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ringing_from: Vec<String>,
    /// Ringing calls to this user, in offer order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ringing_to: Vec<String>,
    /// When this user's recent offers were made (for the per-minute limit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    offer_times: Vec<Millis>,
    /// Calls of this user that are not final.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    live_calls: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ConnRecord {
    streams: u32,
    generation: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    idle_since: Millis,
}

fn is_zero(n: &Millis) -> bool {
    *n == 0
}

impl UserRecord {
    /// Nothing to keep: the store may delete the record.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
            && self.ringing_from.is_empty()
            && self.ringing_to.is_empty()
            && self.offer_times.is_empty()
            && self.live_calls.is_empty()
    }

    /// How many connections this user has (open, or in their grace period).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The calls whose records a request about this user needs.
    pub fn live_calls(&self) -> impl Iterator<Item = &String> {
        self.live_calls.iter()
    }
}

/// A set of records, loaded from or written to a store. A store may hold them shared
/// (`Records<Arc<UserRecord>, Arc<Call>>`): [`Scope::closure_step`] reads either.
#[derive(Debug, Clone, PartialEq)]
pub struct Records<U = UserRecord, C = Call> {
    /// Users by id.
    pub users: BTreeMap<String, U>,
    /// Calls by id.
    pub calls: BTreeMap<String, C>,
}

impl<U, C> Default for Records<U, C> {
    fn default() -> Self {
        Records {
            users: BTreeMap::new(),
            calls: BTreeMap::new(),
        }
    }
}

/// The users and calls a request names (the seeds of its closure).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// User ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Call ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
}

impl Scope {
    /// A request about users only.
    pub fn users<I: IntoIterator<Item = S>, S: Into<String>>(users: I) -> Self {
        Scope {
            users: users.into_iter().map(Into::into).collect(),
            calls: Vec::new(),
        }
    }

    /// Adds a call (ids that are not server ids are skipped: they cannot exist).
    pub fn with_call(mut self, call_id: &str) -> Self {
        if crate::ids::is_server_id(call_id) {
            self.calls.push(call_id.to_owned());
        }
        self
    }

    /// The seeds of a call request by `user`: the user and the call it names.
    pub fn of_call_step(user: &str, call_id: &str) -> Self {
        Scope::users([user]).with_call(call_id)
    }

    /// The seeds of an offer from `user`: the caller and the callee.
    pub fn of_offer(user: &str, req: &crate::api::OfferRequest) -> Self {
        Scope::users([user, req.to.as_str()])
    }

    /// The seeds of a timer fired on a shared store; `None` for typing timers, which
    /// stay on one node.
    pub fn of_timer(timer: &Timer) -> Option<Self> {
        match timer {
            Timer::RingTimeout(call) | Timer::HandshakeTimeout(call) | Timer::ForgetCall(call) => {
                Some(Scope::default().with_call(call))
            }
            Timer::ConnGrace { user, .. } => Some(Scope::users([user.as_str()])),
            Timer::TypingExpire { .. } => None,
        }
    }

    /// Step `step` (0, 1, 2) of loading the closure: the seeds; then the live calls of
    /// the seed users; then the users of the loaded calls. Given what is loaded so far
    /// (which may be more than the steps before brought: a store that follows links
    /// loads ahead), it tells which ids to load next (empty after step 2).
    pub fn closure_step<U, C>(&self, loaded: &Records<U, C>, step: u8) -> Scope
    where
        U: Borrow<UserRecord>,
        C: Borrow<Call>,
    {
        match step {
            0 => self.clone(),
            1 => Scope {
                users: Vec::new(),
                calls: self
                    .users
                    .iter()
                    .filter_map(|u| loaded.users.get(u))
                    .flat_map(|u| u.borrow().live_calls())
                    .filter(|c| !loaded.calls.contains_key(*c))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            },
            2 => Scope {
                users: loaded
                    .calls
                    .values()
                    .map(Borrow::borrow)
                    .flat_map(|c: &Call| [&c.caller, &c.callee])
                    .filter(|u| !loaded.users.contains_key(*u))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                calls: Vec::new(),
            },
            _ => Scope::default(),
        }
    }
}

impl Core {
    /// Adds copies of `records` (owned, or shared as a store keeps them) to this core
    /// (normally an empty one), replacing what it held for those users and calls.
    pub fn import<U, C>(&mut self, records: &Records<U, C>)
    where
        U: Borrow<UserRecord>,
        C: Borrow<Call>,
    {
        for (user, r) in &records.users {
            let r: &UserRecord = r.borrow();
            for (id, c) in &r.conns {
                let conn = Conn {
                    user: user.clone(),
                    streams: c.streams,
                    generation: c.generation,
                    idle_since: c.idle_since,
                };
                self.conns.insert(id.clone(), conn);
                let ids = self.conns_by_user.entry(user.clone()).or_default();
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            let put = |map: &mut HashMap<String, Vec<String>>, v: &Vec<String>| {
                if !v.is_empty() {
                    map.insert(user.clone(), v.clone());
                }
            };
            put(&mut self.ringing_from, &r.ringing_from);
            put(&mut self.ringing_to, &r.ringing_to);
            if !r.offer_times.is_empty() {
                let times = r.offer_times.iter().copied().collect();
                self.offer_times.insert(user.clone(), times);
            }
            if !r.live_calls.is_empty() {
                self.live_calls.insert(user.clone(), r.live_calls.clone());
            }
        }
        for (id, call) in &records.calls {
            self.calls.insert(id.clone(), call.borrow().clone());
        }
    }

    /// Every user and call this core holds, as records (typing state excepted).
    pub fn export(&self) -> Records {
        records_of(
            self.conns.clone(),
            self.ringing_from.clone(),
            self.ringing_to.clone(),
            self.offer_times.clone(),
            self.live_calls.clone(),
            self.calls.clone(),
        )
    }

    /// [`export`](Self::export) for a core that is done with: its state is moved into
    /// the records, not copied.
    pub fn into_records(self) -> Records {
        records_of(
            self.conns,
            self.ringing_from,
            self.ringing_to,
            self.offer_times,
            self.live_calls,
            self.calls,
        )
    }
}

type ByUser<T> = HashMap<String, T>;

/// A core's state, as records.
fn records_of(
    conns: ByUser<Conn>,
    ringing_from: ByUser<Vec<String>>,
    ringing_to: ByUser<Vec<String>>,
    offer_times: ByUser<VecDeque<Millis>>,
    live_calls: ByUser<BTreeSet<String>>,
    calls: HashMap<String, Call>,
) -> Records {
    let mut users: BTreeMap<String, UserRecord> = BTreeMap::new();
    for (id, c) in conns {
        users.entry(c.user).or_default().conns.insert(
            id,
            ConnRecord {
                streams: c.streams,
                generation: c.generation,
                idle_since: c.idle_since,
            },
        );
    }
    for (u, v) in ringing_from {
        users.entry(u).or_default().ringing_from = v;
    }
    for (u, v) in ringing_to {
        users.entry(u).or_default().ringing_to = v;
    }
    for (u, v) in offer_times {
        if !v.is_empty() {
            users.entry(u).or_default().offer_times = v.into();
        }
    }
    for (u, v) in live_calls {
        users.entry(u).or_default().live_calls = v;
    }
    Records {
        users,
        calls: calls.into_iter().collect(),
    }
}
