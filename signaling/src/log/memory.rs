//! The embedded, in-process event log: one ring per user, evicted by count and age.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use super::{Audience, EventId, EventLog, LogConfig, LoggedEvent, Replay, replay_rule};
use crate::error::Error;
use crate::ids::Millis;

#[derive(Debug)]
struct UserLog {
    epoch: u64,
    seq: u64,
    /// Every seq up to and including this one has been evicted.
    evicted_upto: u64,
    entries: VecDeque<LoggedEvent>,
    /// Keys of [`EventLog::append_once`], oldest first, with their time; they age out
    /// like events and are as many as the window holds at most.
    once: VecDeque<(String, Millis)>,
    /// The same keys, for lookup.
    once_keys: HashSet<String>,
}

impl UserLog {
    fn push(
        &mut self,
        cfg: &LogConfig,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> LoggedEvent {
        self.seq += 1;
        let ev = LoggedEvent {
            id: EventId {
                epoch: self.epoch,
                seq: self.seq,
            },
            audience,
            name: name.to_owned(),
            data: data.to_owned(),
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
            if !(too_many || too_old) {
                break;
            }
            self.evicted_upto = front.id.seq;
            self.entries.pop_front();
        }
    }
}

/// The embedded, in-process log. Its epochs start at the value given to [`MemoryLog::new`]
/// (the service passes its start time in ms), so ids from before a restart are stale.
#[derive(Debug)]
pub struct MemoryLog {
    cfg: LogConfig,
    inner: Mutex<MemoryInner>,
}

#[derive(Debug)]
struct MemoryInner {
    next_epoch: u64,
    users: HashMap<String, UserLog>,
}

impl MemoryLog {
    /// A log whose first epoch is `first_epoch`.
    pub fn new(cfg: LogConfig, first_epoch: u64) -> Self {
        MemoryLog {
            cfg,
            inner: Mutex::new(MemoryInner {
                next_epoch: first_epoch,
                users: HashMap::new(),
            }),
        }
    }

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
            }
        });
        log.evict(&self.cfg, now);
        f(log)
    }

    /// Drops the logs of users whose every event has aged out. Such a user's next
    /// event starts a new epoch, so old ids get `reset`, never a wrong replay.
    pub fn sweep(&self, now: Millis) -> usize {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let before = inner.users.len();
        let cfg = self.cfg;
        inner.users.retain(|_, log| {
            log.evict(&cfg, now);
            !log.entries.is_empty()
        });
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

#[async_trait::async_trait]
impl EventLog for MemoryLog {
    async fn append(
        &self,
        user: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<LoggedEvent, Error> {
        let cfg = self.cfg;
        Ok(self.with_user(user, now, |log| log.push(&cfg, audience, name, data, now)))
    }

    async fn append_once(
        &self,
        user: &str,
        key: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error> {
        let cfg = self.cfg;
        Ok(self.with_user(user, now, |log| {
            if !log.once_keys.insert(key.to_owned()) {
                return None;
            }
            log.once.push_back((key.to_owned(), now));
            Some(log.push(&cfg, audience, name, data, now))
        }))
    }

    async fn replay(
        &self,
        user: &str,
        after: &str,
        conn: &str,
        now: Millis,
    ) -> Result<Replay, Error> {
        Ok(self.with_user(user, now, |log| {
            replay_rule(
                log.epoch,
                log.seq,
                log.evicted_upto,
                log.entries.iter(),
                after,
                conn,
            )
        }))
    }

    async fn newest(&self, user: &str) -> Result<EventId, Error> {
        Ok(self.with_user(user, 0, |log| EventId {
            epoch: log.epoch,
            seq: log.seq,
        }))
    }
}
