//! This node's copy of the records it last read from or wrote to Redis, each with its
//! version, so that a request whose records it holds skips the load: the core runs on
//! the copies and the commit, which checks every version it was given (commit.lua),
//! is the request's one round trip. A copy is only ever a guess: a stale one fails
//! that check, whose reply carries the records as they are now, and the request runs
//! again on those. Versions are never reused, even when Redis loses them (commit.lua
//! starts a lost counter at the time in microseconds), so a copy whose version matches
//! is the record. The cache changes how many round trips a request takes, not what it
//! decides.
//!
//! Bounded: at most [`CAP`] users and [`CAP`] calls, and [`BUDGET`] bytes of records
//! in all (a ringing call carries its SDP), the least recently used going first.

use std::sync::{Arc, Mutex, MutexGuard};

use hashlink::LruCache;
use pqcall_signaling::{Call, Records, Scope, UserRecord};

use super::transaction::Loaded;

/// The most users (and, apart, the most calls) a node keeps copies of.
pub(super) const CAP: usize = 16_384;

/// The most bytes of records a node keeps copies of, counted as twice their JSON (what
/// a record takes in memory, with its maps and strings, is about that or less).
pub(super) const BUDGET: usize = 64 << 20;

/// A record as a version and what it held (`None`: absent at that version, which is 0).
type Copy<T> = (u64, Option<T>);

/// Records as the copies hold them: shared, so that a request takes them without
/// copying them (its core gets its own, `transaction.rs`).
pub(super) type Shared = Records<Arc<UserRecord>, Arc<Call>>;

/// A copy, its record's key in Redis (made once, not for every request) and what it
/// counts against the budget.
struct Entry<T> {
    key: String,
    copy: Copy<Arc<T>>,
    bytes: usize,
}

/// The copies, by user id and by call id.
pub(super) struct RecordCache {
    /// The records' keys are `{prefix}:user:{id}` and `{prefix}:call:{id}`.
    prefix: String,
    inner: Mutex<Copies>,
}

struct Copies {
    users: LruCache<String, Entry<UserRecord>>,
    calls: LruCache<String, Entry<Call>>,
    /// The bytes the entries count, users' and calls'.
    bytes: (usize, usize),
}

/// A record read or written, for [`RecordCache::learn`]: its id, version and record,
/// and the length of its JSON.
pub(super) enum Seen<'a> {
    User(&'a str, Copy<&'a Arc<UserRecord>>, usize),
    Call(&'a str, Copy<&'a Arc<Call>>, usize),
}

impl RecordCache {
    /// No copies yet, of records under `prefix`.
    pub(super) fn new(prefix: &str) -> Self {
        RecordCache {
            prefix: prefix.to_owned(),
            inner: Mutex::new(Copies {
                users: LruCache::new(CAP),
                calls: LruCache::new(CAP),
                bytes: (0, 0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Copies> {
        // A panic elsewhere cannot leave the copies wrong, only stale: they are guesses.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The closure of `seeds` (`Scope::closure_step`, as the load follows it) from the
    /// copies; `None` when a record of it has no copy.
    pub(super) fn closure(&self, seeds: &Scope) -> Option<Loaded> {
        let mut copies = self.lock();
        let mut loaded = Loaded::default();
        for step in 0..3 {
            let next = seeds.closure_step(&loaded.records, step);
            for u in next.users {
                let Entry { key, copy, .. } = copies.users.get(&u)?;
                if loaded.versions.insert(key.clone(), copy.0).is_none()
                    && let Some(r) = &copy.1
                {
                    loaded.records.users.insert(u, Arc::clone(r));
                }
            }
            for c in next.calls {
                let Entry { key, copy, .. } = copies.calls.get(&c)?;
                if loaded.versions.insert(key.clone(), copy.0).is_none()
                    && let Some(r) = &copy.1
                {
                    loaded.records.calls.insert(c, Arc::clone(r));
                }
            }
        }
        Some(loaded)
    }

    /// Takes in records as Redis had them (a load, a refused commit) or as this node
    /// wrote them. A copy is replaced by any record reported absent (a delete has no
    /// version to compare) and by any newer version; an older version leaves it.
    pub(super) fn learn<'a>(&self, seen: impl IntoIterator<Item = Seen<'a>>) {
        let mut guard = self.lock();
        let c = &mut *guard;
        for s in seen {
            match s {
                Seen::User(id, (v, r), json) => {
                    let key = || record_key(&self.prefix, "user", id);
                    c.bytes.0 = keep(&mut c.users, c.bytes.0, key, id, (v, r), json);
                }
                Seen::Call(id, (v, r), json) => {
                    let key = || record_key(&self.prefix, "call", id);
                    c.bytes.1 = keep(&mut c.calls, c.bytes.1, key, id, (v, r), json);
                }
            }
            c.shrink();
        }
    }

    /// Drops the copies of records that are gone (deleted): each a user's (`true`) or a
    /// call's, by id.
    pub(super) fn forget<'a>(&self, gone: impl IntoIterator<Item = (bool, &'a str)>) {
        let mut c = self.lock();
        for (is_user, id) in gone {
            if is_user {
                if let Some(e) = c.users.remove(id) {
                    c.bytes.0 -= e.bytes;
                }
            } else if let Some(e) = c.calls.remove(id) {
                c.bytes.1 -= e.bytes;
            }
        }
    }

    /// How many users and calls have copies, and the bytes they count.
    #[cfg(test)]
    pub(super) fn size(&self) -> (usize, usize, usize) {
        let c = self.lock();
        (c.users.len(), c.calls.len(), c.bytes.0 + c.bytes.1)
    }
}

impl Copies {
    /// Drops the least recently used copies, of whichever kind counts more, until the
    /// budget holds.
    fn shrink(&mut self) {
        while self.bytes.0 + self.bytes.1 > BUDGET {
            let gone = if self.bytes.0 >= self.bytes.1 {
                self.users.remove_lru().map(|(_, e)| (e.bytes, 0))
            } else {
                self.calls.remove_lru().map(|(_, e)| (0, e.bytes))
            };
            let Some((users, calls)) = gone else { return };
            self.bytes = (self.bytes.0 - users, self.bytes.1 - calls);
        }
    }
}

/// Records `copy` of `id` (whose JSON is `json` bytes long) in `map`, whose entries
/// count `bytes`, unless a newer version is there; returns what the entries count
/// after. (The map's own cap may drop its least recently used entry: counted too.)
fn keep<T>(
    map: &mut LruCache<String, Entry<T>>,
    bytes: usize,
    key: impl FnOnce() -> String,
    id: &str,
    (version, r): Copy<&Arc<T>>,
    json: usize,
) -> usize {
    if map
        .peek(id)
        .is_some_and(|had| r.is_some() && had.copy.0 >= version)
    {
        return bytes;
    }
    let (bytes, key) = match map.remove(id) {
        Some(old) => (bytes - old.bytes, old.key),
        None => (bytes, key()),
    };
    let weight = 2 * json + 2 * key.len() + 128;
    let mut bytes = bytes + weight;
    if map.len() == map.capacity()
        && let Some((_, lru)) = map.remove_lru()
    {
        bytes -= lru.bytes;
    }
    let copy = (version, r.cloned());
    map.insert(
        id.to_owned(),
        Entry {
            key,
            copy,
            bytes: weight,
        },
    );
    bytes
}

/// A record's key in Redis: `{prefix}:user:{id}` or `{prefix}:call:{id}`.
pub(super) fn record_key(prefix: &str, kind: &str, id: &str) -> String {
    [prefix, ":", kind, ":", id].concat()
}

/// The records `loaded` holds and the absent ones it looked at, for
/// [`RecordCache::learn`]; its keys are `{prefix}:user:{id}` and `{prefix}:call:{id}`.
pub(super) fn seen_in<'a>(loaded: &'a Loaded, prefix: &'a str) -> impl Iterator<Item = Seen<'a>> {
    loaded.versions.iter().filter_map(move |(key, v)| {
        let json = loaded.sizes.get(key).copied().unwrap_or(0);
        seen(key, prefix, *v, &loaded.records, json)
    })
}

/// The record at `key` as `records` hold it (absent when they do not), at `version`,
/// its JSON `json` bytes long, for [`RecordCache::learn`].
pub(super) fn seen<'a>(
    key: &'a str,
    prefix: &str,
    version: u64,
    records: &'a Shared,
    json: usize,
) -> Option<Seen<'a>> {
    Some(match split_key(key, prefix)? {
        (true, id) => Seen::User(id, (version, records.users.get(id)), json),
        (false, id) => Seen::Call(id, (version, records.calls.get(id)), json),
    })
}

/// Whether `key` (`{prefix}:user:{id}` or `{prefix}:call:{id}`) is a user's, and its id.
pub(super) fn split_key<'a>(key: &'a str, prefix: &str) -> Option<(bool, &'a str)> {
    let rest = key.strip_prefix(prefix)?;
    match rest.strip_prefix(":user:") {
        Some(id) => Some((true, id)),
        None => Some((false, rest.strip_prefix(":call:")?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user whose record links to the live call `call`.
    fn in_call(call: &str) -> Arc<UserRecord> {
        let json = serde_json::json!({ "live_calls": [call] });
        Arc::new(serde_json::from_value(json).unwrap_or_default())
    }

    fn version_of(cache: &RecordCache, user: &str) -> Option<u64> {
        let loaded = cache.closure(&Scope::users([user]))?;
        loaded.versions.get(&format!("p:user:{user}")).copied()
    }

    #[test]
    fn a_missing_copy_is_a_miss_and_a_complete_closure_a_hit() {
        let cache = RecordCache::new("p");
        let seeds = Scope::users(["ann"]);
        assert!(cache.closure(&seeds).is_none());
        let ann = Arc::new(UserRecord::default());
        cache.learn([Seen::User("ann", (3, Some(&ann)), 2)]);
        let loaded = cache.closure(&seeds);
        let loaded = loaded.unwrap_or_else(|| panic!("a hit"));
        assert_eq!(loaded.versions.get("p:user:ann"), Some(&3));
        assert!(loaded.records.users.contains_key("ann"));
        // A link to a record without a copy is a miss, to one known absent a hit.
        let ann = in_call("c1");
        cache.learn([Seen::User("ann", (4, Some(&ann)), 20)]);
        assert!(cache.closure(&seeds).is_none());
        cache.learn([Seen::Call("c1", (0, None), 0)]);
        let loaded = cache.closure(&seeds);
        let versions = loaded.map(|l| l.versions.into_iter().collect::<Vec<_>>());
        let want = [("p:call:c1".to_owned(), 0), ("p:user:ann".to_owned(), 4)];
        assert_eq!(versions.as_deref(), Some(&want[..]));
    }

    #[test]
    fn an_older_version_leaves_a_copy_and_an_absent_record_replaces_it() {
        let cache = RecordCache::new("p");
        let ann = Arc::new(UserRecord::default());
        cache.learn([Seen::User("ann", (7, Some(&ann)), 2)]);
        cache.learn([Seen::User("ann", (5, Some(&ann)), 2)]);
        assert_eq!(version_of(&cache, "ann"), Some(7));
        cache.learn([Seen::User("ann", (9, Some(&ann)), 2)]);
        assert_eq!(version_of(&cache, "ann"), Some(9));
        // Deleted (a load or a refusal found it absent).
        cache.learn([Seen::User("ann", (0, None), 0)]);
        assert_eq!(version_of(&cache, "ann"), Some(0));
        cache.forget([(true, "ann")]);
        assert_eq!(version_of(&cache, "ann"), None);
        assert_eq!(cache.size(), (0, 0, 0));
    }

    #[test]
    fn the_copies_are_capped_in_count() {
        let cache = RecordCache::new("p");
        let ids: Vec<String> = (0..CAP + 100).map(|i| format!("u{i}")).collect();
        let ann = Arc::new(UserRecord::default());
        cache.learn(ids.iter().map(|id| Seen::User(id, (1, Some(&ann)), 2)));
        cache.learn(ids.iter().map(|id| Seen::Call(id, (1, None), 0)));
        let (users, calls, bytes) = cache.size();
        assert_eq!((users, calls), (CAP, CAP));
        // The least recently used went first, and what they counted with them.
        assert_eq!(version_of(&cache, "u0"), None);
        assert_eq!(version_of(&cache, &format!("u{}", CAP + 99)), Some(1));
        let each = |json: usize, id: &str| 2 * json + 2 * format!("p:user:{id}").len() + 128;
        let kept = &ids[100..];
        let want: usize = kept.iter().map(|id| each(2, id) + each(0, id)).sum();
        assert_eq!(bytes, want);
    }

    #[test]
    fn the_copies_are_capped_in_bytes() {
        let cache = RecordCache::new("p");
        let ann = Arc::new(UserRecord::default());
        // Records of a megabyte each: the budget holds whatever the records hold.
        for i in 0..200 {
            cache.learn([Seen::User(&format!("u{i}"), (1, Some(&ann)), 1 << 20)]);
            assert!(cache.size().2 <= BUDGET);
        }
        let (users, _, bytes) = cache.size();
        assert!(
            users < 40 && bytes <= BUDGET,
            "{users} copies, {bytes} bytes"
        );
        assert_eq!(version_of(&cache, "u199"), Some(1));
        assert_eq!(version_of(&cache, "u0"), None);
    }
}
