//! The per-user event log (docs/PROTOCOL.md §3): ids `<epoch>-<seq>`, a replay window bounded
//! by count and age, and "everything after id X" or `reset`.
//!
//! [`EventLog`] is the interface the service uses; [`MemoryLog`] is the embedded one.
//! Another backend (Redis Streams) must pass [`conformance`] with the same semantics.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Mutex;

use crate::error::Error;
use crate::ids::Millis;

/// An event id: `<epoch>-<seq>`. Within one epoch, `seq` increases by one per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    /// Changes whenever the user's log cannot be continued.
    pub epoch: u64,
    /// Position in the log; 0 means "before the first event".
    pub seq: u64,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

impl EventId {
    /// Parses `<epoch>-<seq>` (decimal, no sign, no padding beyond what `u64` prints).
    pub fn parse(s: &str) -> Option<EventId> {
        let (e, q) = s.split_once('-')?;
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 20 && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(e) || !digits(q) {
            return None;
        }
        Some(EventId {
            epoch: e.parse().ok()?,
            seq: q.parse().ok()?,
        })
    }
}

/// Which of a user's connections see an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Every device of the user.
    All,
    /// Only this connection.
    Only(String),
    /// Every device but this connection.
    Except(String),
}

impl Audience {
    /// Whether connection `conn` sees it.
    pub fn includes(&self, conn: &str) -> bool {
        match self {
            Audience::All => true,
            Audience::Only(c) => c == conn,
            Audience::Except(c) => c != conn,
        }
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// Its id.
    pub id: EventId,
    /// Who sees it.
    pub audience: Audience,
    /// The SSE event name.
    pub name: String,
    /// One-line JSON.
    pub data: String,
    /// When it was appended (Unix ms).
    pub at: Millis,
}

/// Why a resume was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// Not an id this log ever issued (garbage, or ahead of the log).
    UnknownId,
    /// From an earlier epoch of this user's log.
    StaleEpoch,
    /// Events after it have left the replay window.
    OutOfWindow,
}

impl ResetReason {
    /// The `reason` of the `reset` event.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::UnknownId => "unknown_id",
            ResetReason::StaleEpoch => "stale_epoch",
            ResetReason::OutOfWindow => "out_of_window",
        }
    }
}

/// The answer to "everything after X".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Exactly the events after X that this connection sees, oldest first.
    Events(Vec<LoggedEvent>),
    /// X cannot be resumed; live delivery continues after `newest`.
    Reset {
        /// Why.
        reason: ResetReason,
        /// The newest id of the log.
        newest: EventId,
    },
}

/// The replay window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Most events kept per user.
    pub max_events: usize,
    /// Oldest event kept, in ms.
    pub max_age_ms: u64,
}

impl Default for LogConfig {
    /// docs/PROTOCOL.md §3: 1000 events, 10 minutes.
    fn default() -> Self {
        LogConfig {
            max_events: 1000,
            max_age_ms: 10 * 60 * 1000,
        }
    }
}

/// A per-user event log shared by every node that serves the user.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync {
    /// Appends an event to `user`'s log and returns it with its new id.
    async fn append(
        &self,
        user: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<LoggedEvent, Error>;

    /// Appends like [`append`](Self::append) unless `user`'s log already took an event
    /// under the same `key` within its age window; then it appends nothing and returns
    /// `None`. A retried request uses it to finish an interrupted fan-out exactly once.
    async fn append_once(
        &self,
        user: &str,
        key: &str,
        audience: Audience,
        name: &str,
        data: &str,
        now: Millis,
    ) -> Result<Option<LoggedEvent>, Error>;

    /// Everything after `after` that connection `conn` sees, or a reset.
    async fn replay(
        &self,
        user: &str,
        after: &str,
        conn: &str,
        now: Millis,
    ) -> Result<Replay, Error>;

    /// The newest id of `user`'s log (`<epoch>-0` for an empty one).
    async fn newest(&self, user: &str) -> Result<EventId, Error>;
}

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

/// The replay rule shared by every backend: given the log's epoch, its newest seq,
/// the highest evicted seq and the retained entries, answer "everything after X".
pub fn replay_rule<'a>(
    epoch: u64,
    newest_seq: u64,
    evicted_upto: u64,
    retained: impl Iterator<Item = &'a LoggedEvent>,
    after: &str,
    conn: &str,
) -> Replay {
    let newest = EventId {
        epoch,
        seq: newest_seq,
    };
    let reset = |reason| Replay::Reset { reason, newest };
    let Some(x) = EventId::parse(after) else {
        return reset(ResetReason::UnknownId);
    };
    if x.epoch != epoch {
        return reset(ResetReason::StaleEpoch);
    }
    if x.seq > newest_seq {
        return reset(ResetReason::UnknownId);
    }
    if x.seq < evicted_upto {
        return reset(ResetReason::OutOfWindow);
    }
    Replay::Events(
        retained
            .filter(|e| e.id.seq > x.seq && e.audience.includes(conn))
            .cloned()
            .collect(),
    )
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

pub mod conformance {
    //! The semantics every [`EventLog`] backend must have. Build the log under test
    //! with [`CONFIG`] and call [`run`]; it panics with the rule that failed. It uses
    //! fresh user names on every call, so one log can be checked more than once.
    #![allow(clippy::expect_used)] // a test suite: a failed step is a failed check

    use super::*;

    /// The window the suite expects the log under test to have.
    pub const CONFIG: LogConfig = LogConfig {
        max_events: 20,
        max_age_ms: 60_000,
    };

    fn user(tag: &str, salt: u64) -> String {
        format!("conformance-{tag}-{salt}")
    }

    /// Runs every check. `salt` makes the user names unique for this run; `t0` is the
    /// time (Unix ms) of the first append.
    pub async fn run(log: &dyn EventLog, salt: u64, t0: Millis) {
        ids_increase(log, salt, t0).await;
        append_once_dedupes(log, salt, t0).await;
        replay_every_suffix(log, salt, t0).await;
        audiences(log, salt, t0).await;
        unknown_and_stale(log, salt, t0).await;
        count_window(log, salt, t0).await;
        age_window(log, salt, t0).await;
        users_are_independent(log, salt, t0).await;
    }

    async fn append_once_dedupes(log: &dyn EventLog, salt: u64, t0: Millis) {
        let (a, b) = (user("once-a", salt), user("once-b", salt));
        let first = log
            .append_once(&a, "k1", Audience::All, "t", "{\"n\":1}", t0)
            .await
            .expect("append_once")
            .expect("a new key appends");
        let again = log
            .append_once(&a, "k1", Audience::All, "t", "{\"n\":1}", t0 + 1)
            .await
            .expect("append_once");
        assert!(
            again.is_none(),
            "the same key appends nothing the second time"
        );
        let other_key = log
            .append_once(&a, "k2", Audience::All, "t", "{}", t0 + 2)
            .await
            .expect("append_once")
            .expect("another key appends");
        assert_eq!(
            other_key.id.seq,
            first.id.seq + 1,
            "nothing was appended between"
        );
        let other_user = log
            .append_once(&b, "k1", Audience::All, "t", "{}", t0 + 3)
            .await
            .expect("append_once");
        assert!(other_user.is_some(), "keys are per user");
        match log
            .replay(
                &a,
                &EventId {
                    epoch: first.id.epoch,
                    seq: 0,
                }
                .to_string(),
                "c",
                t0 + 4,
            )
            .await
            .expect("replay")
        {
            Replay::Events(events) => {
                let seqs: Vec<u64> = events.iter().map(|e| e.id.seq).collect();
                assert_eq!(
                    seqs,
                    vec![first.id.seq, other_key.id.seq],
                    "one event per key"
                );
            }
            Replay::Reset { reason, .. } => panic!("replay of a fresh log reset: {reason:?}"),
        }
    }

    async fn ids_increase(log: &dyn EventLog, salt: u64, t0: Millis) {
        let u = user("ids", salt);
        let first = log.newest(&u).await.expect("newest");
        assert_eq!(first.seq, 0, "an empty log's newest id has seq 0");
        let mut last = first;
        for i in 0..5 {
            let e = log
                .append(&u, Audience::All, "t", "{}", t0 + i)
                .await
                .expect("append");
            assert_eq!(
                e.id.epoch, first.epoch,
                "same epoch while the log continues"
            );
            assert_eq!(e.id.seq, last.seq + 1, "seq increases by one");
            assert_eq!(
                EventId::parse(&e.id.to_string()),
                Some(e.id),
                "ids round-trip as text"
            );
            last = e.id;
        }
        assert_eq!(log.newest(&u).await.expect("newest"), last);
    }

    async fn replay_every_suffix(log: &dyn EventLog, salt: u64, t0: Millis) {
        let u = user("suffix", salt);
        let start = log.newest(&u).await.expect("newest");
        let mut ids = vec![start];
        for i in 0..10u64 {
            let data = format!("{{\"i\":{i}}}");
            ids.push(
                log.append(&u, Audience::All, "n", &data, t0 + i)
                    .await
                    .expect("append")
                    .id,
            );
        }
        for (k, from) in ids.iter().enumerate() {
            match log
                .replay(&u, &from.to_string(), "c", t0 + 10)
                .await
                .expect("replay")
            {
                Replay::Events(evs) => {
                    let got: Vec<EventId> = evs.iter().map(|e| e.id).collect();
                    assert_eq!(
                        got,
                        ids[k + 1..].to_vec(),
                        "replay after {from} is exactly the suffix"
                    );
                    for (j, e) in evs.iter().enumerate() {
                        assert_eq!(e.data, format!("{{\"i\":{}}}", k + j), "payload kept");
                        assert_eq!(e.name, "n");
                    }
                }
                other => panic!("replay after {from}: expected events, got {other:?}"),
            }
        }
    }

    async fn audiences(log: &dyn EventLog, salt: u64, t0: Millis) {
        let u = user("aud", salt);
        let start = log.newest(&u).await.expect("newest").to_string();
        log.append(&u, Audience::All, "all", "{}", t0)
            .await
            .expect("append");
        log.append(&u, Audience::Only("a".into()), "only-a", "{}", t0)
            .await
            .expect("append");
        log.append(&u, Audience::Except("a".into()), "not-a", "{}", t0)
            .await
            .expect("append");
        let names = |r: Replay| match r {
            Replay::Events(e) => e.into_iter().map(|e| e.name).collect::<Vec<_>>(),
            other => panic!("expected events, got {other:?}"),
        };
        assert_eq!(
            names(log.replay(&u, &start, "a", t0).await.expect("r")),
            ["all", "only-a"]
        );
        assert_eq!(
            names(log.replay(&u, &start, "b", t0).await.expect("r")),
            ["all", "not-a"]
        );
    }

    async fn unknown_and_stale(log: &dyn EventLog, salt: u64, t0: Millis) {
        let u = user("unknown", salt);
        let e = log
            .append(&u, Audience::All, "x", "{}", t0)
            .await
            .expect("append")
            .id;
        let expect_reset = |r: Replay, want: ResetReason, what: &str| match r {
            Replay::Reset { reason, newest } => {
                assert_eq!(reason, want, "{what}");
                assert_eq!(newest, e, "{what}: reset names the newest id");
            }
            other => panic!("{what}: expected reset, got {other:?}"),
        };
        for garbage in [
            "",
            "abc",
            "1",
            "-1",
            "1-",
            "1-2-3",
            "x-1",
            "99999999999999999999999-1",
        ] {
            expect_reset(
                log.replay(&u, garbage, "c", t0).await.expect("r"),
                ResetReason::UnknownId,
                garbage,
            );
        }
        let ahead = EventId {
            epoch: e.epoch,
            seq: e.seq + 1,
        }
        .to_string();
        expect_reset(
            log.replay(&u, &ahead, "c", t0).await.expect("r"),
            ResetReason::UnknownId,
            "ahead",
        );
        let stale = EventId {
            epoch: e.epoch.wrapping_add(7),
            seq: e.seq,
        }
        .to_string();
        expect_reset(
            log.replay(&u, &stale, "c", t0).await.expect("r"),
            ResetReason::StaleEpoch,
            "stale epoch",
        );
    }

    async fn count_window(log: &dyn EventLog, salt: u64, t0: Millis) {
        let u = user("count", salt);
        let start = log.newest(&u).await.expect("newest");
        let n = CONFIG.max_events as u64 + 5;
        let mut ids = vec![start];
        for i in 0..n {
            ids.push(
                log.append(&u, Audience::All, "e", "{}", t0 + i)
                    .await
                    .expect("append")
                    .id,
            );
        }
        // 25 appended, 20 kept: seqs 6..=25 remain, so resuming after 5 works and
        // after 4 does not.
        let kept_from = n - CONFIG.max_events as u64 + 1;
        let ok = ids[(kept_from - 1) as usize].to_string();
        match log.replay(&u, &ok, "c", t0 + n).await.expect("r") {
            Replay::Events(e) => assert_eq!(e.len(), CONFIG.max_events, "the whole window replays"),
            other => panic!("resume at the window's edge: {other:?}"),
        }
        let too_old = ids[(kept_from - 2) as usize].to_string();
        assert!(
            matches!(
                log.replay(&u, &too_old, "c", t0 + n).await.expect("r"),
                Replay::Reset {
                    reason: ResetReason::OutOfWindow,
                    ..
                }
            ),
            "resume before the window resets"
        );
    }

    async fn age_window(log: &dyn EventLog, salt: u64, t0: Millis) {
        let u = user("age", salt);
        let start = log.newest(&u).await.expect("newest");
        let old = log
            .append(&u, Audience::All, "old", "{}", t0)
            .await
            .expect("append")
            .id;
        let later = t0 + CONFIG.max_age_ms / 2;
        let fresh = log
            .append(&u, Audience::All, "fresh", "{}", later)
            .await
            .expect("append")
            .id;
        // The old event ages out; the fresh one is still inside the window.
        let now = t0 + CONFIG.max_age_ms + 1;
        assert!(
            matches!(
                log.replay(&u, &start.to_string(), "c", now)
                    .await
                    .expect("r"),
                Replay::Reset {
                    reason: ResetReason::OutOfWindow,
                    ..
                }
            ),
            "an aged-out event makes the earlier id unresumable"
        );
        match log.replay(&u, &old.to_string(), "c", now).await.expect("r") {
            Replay::Events(e) => {
                assert_eq!(e.iter().map(|e| e.id).collect::<Vec<_>>(), vec![fresh])
            }
            other => panic!("resume after the aged-out event: {other:?}"),
        }
    }

    async fn users_are_independent(log: &dyn EventLog, salt: u64, t0: Millis) {
        let a = user("indep-a", salt);
        let b = user("indep-b", salt);
        let a0 = log.newest(&a).await.expect("newest");
        log.append(&a, Audience::All, "a", "{}", t0)
            .await
            .expect("append");
        let b1 = log
            .append(&b, Audience::All, "b", "{}", t0)
            .await
            .expect("append");
        assert_eq!(
            b1.id.seq, 1,
            "another user's appends do not advance this user's seq"
        );
        match log.replay(&a, &a0.to_string(), "c", t0).await.expect("r") {
            Replay::Events(e) => {
                assert_eq!(e.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["a"])
            }
            other => panic!("{other:?}"),
        }
    }
}
