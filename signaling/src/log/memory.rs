//! The embedded, in-process event log: one ring per user, evicted by count, age and
//! bytes, with a running total of the bytes every ring holds (the service refuses new
//! work while the total is over its budget).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use super::{Audience, EventId, LogConfig, LoggedEvent, Replay, replay_rule};
use crate::ids::Millis;

/// The bytes an event costs in the log: its name, its data and a fixed overhead for its
/// id, audience and bookkeeping.
pub fn event_cost(name: &str, data: &str) -> usize {
    name.len() + data.len() + 96
}

#[derive(Debug)]
struct UserLog {
    epoch: u64,
    seq: u64,
    /// Every seq up to and including this one has been evicted.
    evicted_upto: u64,
    entries: VecDeque<LoggedEvent>,
    /// Keys of [`MemoryLog::append_once`], oldest first, with their time; they age out
    /// like events and are as many as the window holds at most.
    once: VecDeque<(String, Millis)>,
    /// The same keys, for lookup.
    once_keys: HashSet<String>,
    /// What the entries cost ([`event_cost`]).
    bytes: usize,
}

impl UserLog {
    fn push(
        &mut self,
        cfg: &LogConfig,
        audience: Audience,
        name: &str,
        data: Arc<str>,
        now: Millis,
    ) -> LoggedEvent {
        self.seq += 1;
        self.bytes += event_cost(name, &data);
        let ev = LoggedEvent {
            id: EventId {
                epoch: self.epoch,
                seq: self.seq,
            },
            audience,
            name: name.into(),
            data,
            at: now,
        };
        self.entries.push_back(ev.clone());
        self.evict(cfg, now);
        ev
    }

    fn evict(&mut self, cfg: &LogConfig, now: Millis) {
        while let Some((_, at)) = self.once.front() {
            if self.once.len() <= cfg.max_events && at.saturating_add(cfg.max_age_ms) > now {
                break;
            }
            if let Some((key, _)) = self.once.pop_front() {
                self.once_keys.remove(&key);
            }
        }
        while let Some(front) = self.entries.front() {
            let too_many = self.entries.len() > cfg.max_events;
            let too_old = front.at.saturating_add(cfg.max_age_ms) <= now;
            let too_big = self.bytes > cfg.max_bytes;
            if !(too_many || too_old || too_big) {
                break;
            }
            self.evicted_upto = front.id.seq;
            self.bytes -= event_cost(&front.name, &front.data);
            self.entries.pop_front();
        }
    }
}

/// The embedded, in-process log. Its epochs start at the value given to [`MemoryLog::new`]
/// and count up by one per new user log; the service passes its start time in ms times
/// a million, so no epoch of a later start repeats one of an earlier start and ids from
/// before a restart are stale.
///
/// Its methods are those of the service's `EventLog` trait, synchronous: a memory log
/// never fails and never waits.
#[derive(Debug)]
pub struct MemoryLog {
    cfg: LogConfig,
    inner: Mutex<MemoryInner>,
}

#[derive(Debug)]
struct MemoryInner {
    next_epoch: u64,
    users: HashMap<String, UserLog>,
    /// The sum of every user log's bytes.
    bytes: usize,
}

impl MemoryLog {
    /// A log whose first epoch is `first_epoch`.
    pub fn new(cfg: LogConfig, first_epoch: u64) -> Self {
        MemoryLog {
            cfg,
            inner: Mutex::new(MemoryInner {
                next_epoch: first_epoch,
                users: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    /// Runs `f` on `user`'s log, if there is one, after evicting what left the window.
    fn with_existing<T>(
        &self,
        user: &str,
        now: Millis,
        f: impl FnOnce(&mut UserLog) -> T,
    ) -> Option<T> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *inner;
        let log = inner.users.get_mut(user)?;
        let before = log.bytes;
        log.evict(&self.cfg, now);
        let out = f(log);
        inner.bytes = inner.bytes + log.bytes - before;
        Some(out)
    }

    /// Runs `f` on `user`'s log, starting one if there is none.
    fn with_user<T>(&self, user: &str, now: Millis, f: impl FnOnce(&mut UserLog) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-call; the data is
        // still consistent at every await-free step, so keep serving.
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *inner;
        let log = inner.users.entry(user.to_owned()).or_insert_with(|| {
            let epoch = inner.next_epoch;
            inner.next_epoch += 1;
            UserLog {
                epoch,
                seq: 0,
                evicted_upto: 0,
                entries: VecDeque::new(),
                once: VecDeque::new(),
                once_keys: HashSet::new(),
                bytes: 0,
            }
        });
        let before = log.bytes;
        log.evict(&self.cfg, now);
        let out = f(log);
        inner.bytes = inner.bytes + log.bytes - before;
        out
    }

    /// Whether `user` has a log: they opened a stream (a [`replay`](Self::replay) or
    /// [`newest`](Self::newest) started it), and it was not swept since.
    pub fn has(&self, user: &str) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.users.contains_key(user)
    }

    /// The bytes every user log holds ([`event_cost`] of each event).
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).bytes
    }

    /// Evicts what left the window from every log, and drops the logs of users whose
    /// every event has aged out unless `keep` says they are still connected. Such a
    /// user's next log starts a new epoch, so old ids get `reset`, never a wrong replay.
    /// Returns how many logs it dropped.
    pub fn sweep(&self, now: Millis, keep: impl Fn(&str) -> bool) -> usize {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let before = inner.users.len();
        let cfg = self.cfg;
        inner.users.retain(|user, log| {
            log.evict(&cfg, now);
            !log.entries.is_empty() || keep(user)
        });
        inner.bytes = inner.users.values().map(|l| l.bytes).sum();
        before - inner.users.len()
    }

    /// How many events are held in total (for metrics).
    pub fn len(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.users.values().map(|l| l.entries.len()).sum()
    }

    /// True when no events are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MemoryLog {
    /// Appends an event to `user`'s log and returns it with its new id; `None` when the
    /// user has no log (never opened a stream, or was swept while away): nothing could
    /// read the event, so a made-up recipient costs nothing.
    ///
    /// An `Arc<str>` is kept as it is, not copied (one event often goes to many logs).
    pub fn append(
        &self,
        user: &str,
        audience: Audience,
        name: &str,
        data: impl Into<Arc<str>>,
        now: Millis,
    ) -> Option<LoggedEvent> {
        let cfg = self.cfg;
        self.with_existing(user, now, |log| {
            log.push(&cfg, audience, name, data.into(), now)
        })
    }

    /// Appends unless `user`'s log took an event under `key` within its window, or the
    /// user has no log.
    pub fn append_once(
        &self,
        user: &str,
        key: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Option<LoggedEvent> {
        let cfg = self.cfg;
        self.with_existing(user, now, |log| {
            if !log.once_keys.insert(key.to_owned()) {
                return None;
            }
            log.once.push_back((key.to_owned(), now));
            Some(log.push(&cfg, audience, name, data.into(), now))
        })
        .flatten()
    }

    /// Everything after `after` that connection `conn` sees, or a reset. Starts the
    /// user's log if there is none.
    pub fn replay(&self, user: &str, after: &str, conn: &str, now: Millis) -> Replay {
        self.with_user(user, now, |log| {
            replay_rule(
                log.epoch,
                log.seq,
                log.evicted_upto,
                log.entries.iter(),
                after,
                conn,
            )
        })
    }

    /// The newest id of `user`'s log (`<epoch>-0` for an empty one). Starts the user's
    /// log if there is none.
    pub fn newest(&self, user: &str) -> EventId {
        self.with_user(user, 0, |log| EventId {
            epoch: log.epoch,
            seq: log.seq,
        })
    }
}
