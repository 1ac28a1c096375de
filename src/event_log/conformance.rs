//! The semantics every [`EventLog`] backend must have. Build the log under test
//! with [`CONFIG`] and call [`run`]; it panics with the rule that failed. It uses
//! fresh user names on every call, so one log can be checked more than once.
#![allow(clippy::expect_used)] // a test suite: a failed step is a failed check

use pqcall_signaling::{Audience, EventId, LogConfig, Millis, Replay, ResetReason};

use super::EventLog;

/// The window the suite expects the log under test to have.
pub const CONFIG: LogConfig = LogConfig {
    max_events: 20,
    max_age_ms: 60_000,
    max_bytes: 1 << 20,
};

/// A fresh user who opened a stream (which starts their log).
async fn user(log: &dyn EventLog, tag: &str, salt: u64) -> String {
    let name = format!("conformance-{tag}-{salt}");
    log.newest(&name).await.expect("newest");
    name
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
    bytes_window(log, salt, t0).await;
    age_window(log, salt, t0).await;
    users_are_independent(log, salt, t0).await;
    no_stream_no_log(log, salt, t0).await;
}

/// A user who never opened a stream has no log: appends keep nothing.
async fn no_stream_no_log(log: &dyn EventLog, salt: u64, t0: Millis) {
    let ghost = format!("conformance-ghost-{salt}");
    let r = log.append(&ghost, Audience::All, "x", "{}", t0).await;
    assert_eq!(
        r.expect("append"),
        None,
        "nothing kept for a user with no log"
    );
    let r = log
        .append_once(&ghost, "k", Audience::All, "x", "{}", t0)
        .await;
    assert_eq!(r.expect("append_once"), None);
    // Opening a stream starts the log, empty: the appends above left no trace.
    let newest = log.newest(&ghost).await.expect("newest");
    assert_eq!(newest.seq, 0);
    let kept = log
        .append(&ghost, Audience::All, "x", "{}", t0)
        .await
        .expect("append");
    assert_eq!(kept.map(|e| e.id.seq), Some(1));
}

async fn append_once_dedupes(log: &dyn EventLog, salt: u64, t0: Millis) {
    let (a, b) = (
        user(log, "once-a", salt).await,
        user(log, "once-b", salt).await,
    );
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
    let u = user(log, "ids", salt).await;
    let first = log.newest(&u).await.expect("newest");
    assert_eq!(first.seq, 0, "an empty log's newest id has seq 0");
    let mut last = first;
    for i in 0..5 {
        let e = log
            .append(&u, Audience::All, "t", "{}", t0 + i)
            .await
            .expect("append")
            .expect("a user who opened a stream has a log");
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
    let u = user(log, "suffix", salt).await;
    let start = log.newest(&u).await.expect("newest");
    let mut ids = vec![start];
    for i in 0..10u64 {
        let data = format!("{{\"i\":{i}}}");
        ids.push(
            log.append(&u, Audience::All, "n", &data, t0 + i)
                .await
                .expect("append")
                .expect("a user who opened a stream has a log")
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
                    assert_eq!(&*e.data, format!("{{\"i\":{}}}", k + j), "payload kept");
                    assert_eq!(e.name, "n");
                }
            }
            other => panic!("replay after {from}: expected events, got {other:?}"),
        }
    }
}

async fn audiences(log: &dyn EventLog, salt: u64, t0: Millis) {
    let u = user(log, "aud", salt).await;
    let start = log.newest(&u).await.expect("newest").to_string();
    log.append(&u, Audience::All, "all", "{}", t0)
        .await
        .expect("append")
        .expect("a user who opened a stream has a log");
    log.append(&u, Audience::Only("a".into()), "only-a", "{}", t0)
        .await
        .expect("append")
        .expect("a user who opened a stream has a log");
    log.append(&u, Audience::Except("a".into()), "not-a", "{}", t0)
        .await
        .expect("append")
        .expect("a user who opened a stream has a log");
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
    let u = user(log, "unknown", salt).await;
    let e = log
        .append(&u, Audience::All, "x", "{}", t0)
        .await
        .expect("append")
        .expect("a user who opened a stream has a log")
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
    let u = user(log, "count", salt).await;
    let start = log.newest(&u).await.expect("newest");
    let n = CONFIG.max_events as u64 + 5;
    let mut ids = vec![start];
    for i in 0..n {
        ids.push(
            log.append(&u, Audience::All, "e", "{}", t0 + i)
                .await
                .expect("append")
                .expect("a user who opened a stream has a log")
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

/// Past `max_bytes` of events (each costing its name, data and 96 bytes), the oldest go
/// first: with events of a quarter of the budget, the newest three stay.
async fn bytes_window(log: &dyn EventLog, salt: u64, t0: Millis) {
    let u = user(log, "bytes", salt).await;
    let data = format!("\"{}\"", "x".repeat(CONFIG.max_bytes / 4));
    let mut ids = vec![log.newest(&u).await.expect("newest")];
    for i in 0..6 {
        let e = log.append(&u, Audience::All, "e", &data, t0 + i).await;
        ids.push(e.expect("append").expect("a log").id);
    }
    // Six appended, three fit: resuming after the third replays the last three.
    match log
        .replay(&u, &ids[3].to_string(), "c", t0 + 6)
        .await
        .expect("r")
    {
        Replay::Events(e) => assert_eq!(e.len(), 3, "the newest three replay"),
        other => panic!("resume inside the byte window: {other:?}"),
    }
    assert!(
        matches!(
            log.replay(&u, &ids[2].to_string(), "c", t0 + 6)
                .await
                .expect("r"),
            Replay::Reset {
                reason: ResetReason::OutOfWindow,
                ..
            }
        ),
        "resume before the byte window resets"
    );
}

async fn age_window(log: &dyn EventLog, salt: u64, t0: Millis) {
    let u = user(log, "age", salt).await;
    let start = log.newest(&u).await.expect("newest");
    let old = log
        .append(&u, Audience::All, "old", "{}", t0)
        .await
        .expect("append")
        .expect("a user who opened a stream has a log")
        .id;
    let later = t0 + CONFIG.max_age_ms / 2;
    let fresh = log
        .append(&u, Audience::All, "fresh", "{}", later)
        .await
        .expect("append")
        .expect("a user who opened a stream has a log")
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
    let a = user(log, "indep-a", salt).await;
    let b = user(log, "indep-b", salt).await;
    let a0 = log.newest(&a).await.expect("newest");
    log.append(&a, Audience::All, "a", "{}", t0)
        .await
        .expect("append")
        .expect("a user who opened a stream has a log");
    let b1 = log
        .append(&b, Audience::All, "b", "{}", t0)
        .await
        .expect("append")
        .expect("a user who opened a stream has a log");
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
