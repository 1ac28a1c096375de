//! The in-memory event log: epochs, the sweep, once-keys, the byte budget, and resume
//! from every id of random histories. (The conformance suite every backend passes runs
//! against it in the service's `tests/event_log.rs`.)

use pqcall_signaling::{Audience, LogConfig, MemoryLog, Replay, ResetReason};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000;

#[test]
fn a_new_log_has_a_new_epoch() {
    let before = MemoryLog::new(LogConfig::default(), 1_000);
    before.newest("alice"); // alice opened a stream
    let id = before
        .append("alice", Audience::All, "x", "{}", T0)
        .unwrap()
        .id;
    // A restart: a memory log cannot continue, so its epoch differs.
    let after = MemoryLog::new(LogConfig::default(), 2_000);
    let r = after.replay("alice", &id.to_string(), "c", T0);
    assert!(matches!(
        r,
        Replay::Reset {
            reason: ResetReason::StaleEpoch,
            ..
        }
    ));
}

#[test]
fn sweep_forgets_idle_users_and_their_ids_reset() {
    let cfg = LogConfig {
        max_events: 10,
        max_age_ms: 1_000,
        ..LogConfig::default()
    };
    let log = MemoryLog::new(cfg, 7);
    log.newest("bob");
    let id = log.append("bob", Audience::All, "x", "{}", T0).unwrap().id;
    assert_eq!(log.sweep(T0 + 500, |_| false), 0);
    assert_eq!(log.sweep(T0 + 1_000, |_| false), 1);
    let r = log.replay("bob", &id.to_string(), "c", T0 + 1_000);
    assert!(
        matches!(
            r,
            Replay::Reset {
                reason: ResetReason::StaleEpoch,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn once_keys_age_out_with_the_window_and_are_bounded_by_its_size() {
    let cfg = LogConfig {
        max_events: 3,
        max_age_ms: 1_000,
        ..LogConfig::default()
    };
    let log = MemoryLog::new(cfg, 7);
    log.newest("carol");
    let once = |key: &str, at: u64| {
        log.append_once("carol", key, Audience::All, "x", "{}", at)
            .is_some()
    };
    assert!(once("m1", T0));
    assert!(
        !once("m1", T0 + 999),
        "inside the age window the key is known"
    );
    assert!(once("m1", T0 + 1_000), "after the window it appends again");
    // More keys than the window holds: the oldest is forgotten, the newest still known.
    for k in ["a", "b", "c"] {
        assert!(once(k, T0 + 1_001));
    }
    assert!(once("m1", T0 + 1_002), "pushed out by three newer keys");
    assert!(!once("c", T0 + 1_002));
}

#[test]
fn each_user_log_is_bounded_in_bytes_and_the_total_is_kept() {
    let cfg = LogConfig {
        max_bytes: 10_000,
        ..LogConfig::default()
    };
    let log = MemoryLog::new(cfg, 7);
    let data = format!("\"{}\"", "x".repeat(998));
    log.newest("dana");
    log.newest("erin");
    let first = log
        .append("dana", Audience::All, "e", data.as_str(), T0)
        .unwrap();
    for _ in 0..100 {
        log.append("dana", Audience::All, "e", data.as_str(), T0);
        log.append("erin", Audience::All, "e", data.as_str(), T0);
    }
    // Each log keeps what fits in its budget, so the total is at most two budgets.
    assert!(log.bytes() <= 20_000, "{} bytes", log.bytes());
    assert!(log.bytes() > 18_000, "{} bytes", log.bytes());
    // Events pushed out by bytes are out of the window, like those pushed out by count.
    let r = log.replay("dana", &first.id.to_string(), "c", T0);
    assert!(
        matches!(
            r,
            Replay::Reset {
                reason: ResetReason::OutOfWindow,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn the_sweep_keeps_the_logs_of_connected_users_and_frees_the_rest() {
    let cfg = LogConfig {
        max_age_ms: 1_000,
        ..LogConfig::default()
    };
    let log = MemoryLog::new(cfg, 7);
    log.newest("online"); // a stream opened: the user has a log, with no events
    log.newest("offline");
    log.append("offline", Audience::All, "e", "{}", T0);
    log.append("never", Audience::All, "e", "{}", T0); // never opened a stream: not kept
    assert!(log.has("online") && log.has("offline") && !log.has("never"));
    assert!(log.bytes() > 0);
    assert_eq!(log.sweep(T0 + 1_000, |u| u == "online"), 1);
    assert!(
        log.has("online"),
        "a connected user keeps a log to append to"
    );
    assert!(!log.has("offline"));
    assert_eq!(log.bytes(), 0);
}

proptest! {
    #[test]
    fn resume_from_every_id_yields_exactly_the_suffix(
        history in prop::collection::vec((0..3u8, 0..4u8), 0..60),
        window in 5usize..40,
    ) {
        let log = MemoryLog::new(LogConfig { max_events: window, max_age_ms: u64::MAX / 4, ..LogConfig::default() }, 9);
        let conns = ["a", "b", "c"];
        let start = log.newest("u");
        let mut all = vec![];
        for (i, (aud, conn)) in history.iter().enumerate() {
            let audience = match aud {
                0 => Audience::All,
                1 => Audience::Only(conns[*conn as usize % 3].into()),
                _ => Audience::Except(conns[*conn as usize % 3].into()),
            };
            let e = log.append("u", audience, "e", format!("{i}"), T0 + i as u64).unwrap();
            all.push(e);
        }
        let n = all.len();
        let first_kept = n.saturating_sub(window);
        for k in 0..=n {
            let after = if k == 0 { start } else { all[k - 1].id };
            for conn in conns {
                let r = log.replay("u", &after.to_string(), conn, T0 + n as u64);
                if k < first_kept {
                    prop_assert!(matches!(r, Replay::Reset { reason: ResetReason::OutOfWindow, .. }), "k={} {:?}", k, r);
                } else {
                    let want: Vec<_> = all[k..].iter().filter(|e| e.audience.includes(conn)).map(|e| e.id).collect();
                    match r {
                        Replay::Events(evs) => prop_assert_eq!(evs.iter().map(|e| e.id).collect::<Vec<_>>(), want),
                        other => prop_assert!(false, "k={} {:?}", k, other),
                    }
                }
            }
        }
    }
}
