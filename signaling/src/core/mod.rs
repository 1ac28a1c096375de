//! [`Core`]: connections, calls and typing state, driven by requests and timers with
//! the time passed in, answering with [`Output`]s for the shell to perform.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::api::PublishRequest;
use crate::calls::Call;
use crate::error::Error;
use crate::event::Event;
use crate::ids::{IdSource, Millis, RandomIds, check_user_id};
use crate::log::Audience;
use crate::output::{Output, deliver};
use crate::valid::Valid;

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
    /// Connection ids one user may hold (open or in their grace period). A new one past
    /// it ends the grace of the user's longest-idle one at once.
    pub max_conn_ids_per_user: usize,
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
            max_conn_ids_per_user: 64,
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
    /// When its last stream closed (Unix ms; 0 while a stream is open).
    pub(crate) idle_since: Millis,
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
    /// A short list (a user has a few devices): a `Vec` costs a tenth of a set's node.
    pub(crate) conns_by_user: HashMap<String, Vec<String>>,
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
}

mod call_flow;
mod connections;
mod timers;
mod typing;
mod update;

pub use update::UPDATES_PER_MINUTE;

pub use typing::typing_to_others;

/// `POST /api/server/publish`: an app-defined event through every recipient's log.
pub fn publish(req: &Valid<PublishRequest>) -> Result<Vec<Output>, Error> {
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
