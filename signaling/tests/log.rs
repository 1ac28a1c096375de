//! The in-memory event log against the conformance suite, and resume from every id of
//! random histories.

use pqcall_signaling::log::conformance;
use pqcall_signaling::{Audience, EventLog, LogConfig, MemoryLog, Replay, ResetReason};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000;

#[test]
fn memory_log_conforms() {
    let log = MemoryLog::new(conformance::CONFIG, 42);
    pollster::block_on(conformance::run(&log, 1, T0));
    // The suite can run twice on one log (it uses fresh users).
    pollster::block_on(conformance::run(&log, 2, T0));
}

#[test]
fn a_new_log_has_a_new_epoch() {
    let before = MemoryLog::new(LogConfig::default(), 1_000);
    let id = pollster::block_on(before.append("alice", Audience::All, "x", "{}", T0))
        .unwrap()
        .id;
    // A restart: a memory log cannot continue, so its epoch differs.
    let after = MemoryLog::new(LogConfig::default(), 2_000);
    let r = pollster::block_on(after.replay("alice", &id.to_string(), "c", T0)).unwrap();
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
    };
    let log = MemoryLog::new(cfg, 7);
    let id = pollster::block_on(log.append("bob", Audience::All, "x", "{}", T0))
        .unwrap()
        .id;
    assert_eq!(log.sweep(T0 + 500), 0);
    assert_eq!(log.sweep(T0 + 1_000), 1);
    let r = pollster::block_on(log.replay("bob", &id.to_string(), "c", T0 + 1_000)).unwrap();
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
    };
    let log = MemoryLog::new(cfg, 7);
    let once = |key: &str, at: u64| {
        pollster::block_on(log.append_once("carol", key, Audience::All, "x", "{}", at))
            .unwrap()
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

proptest! {
    #[test]
    fn resume_from_every_id_yields_exactly_the_suffix(
        history in prop::collection::vec((0..3u8, 0..4u8), 0..60),
        window in 5usize..40,
    ) {
        let log = MemoryLog::new(LogConfig { max_events: window, max_age_ms: u64::MAX / 4 }, 9);
        let conns = ["a", "b", "c"];
        let start = pollster::block_on(log.newest("u")).unwrap();
        let mut all = vec![];
        for (i, (aud, conn)) in history.iter().enumerate() {
            let audience = match aud {
                0 => Audience::All,
                1 => Audience::Only(conns[*conn as usize % 3].into()),
                _ => Audience::Except(conns[*conn as usize % 3].into()),
            };
            let e = pollster::block_on(log.append("u", audience, "e", &format!("{i}"), T0 + i as u64)).unwrap();
            all.push(e);
        }
        let n = all.len();
        let first_kept = n.saturating_sub(window);
        for k in 0..=n {
            let after = if k == 0 { start } else { all[k - 1].id };
            for conn in conns {
                let r = pollster::block_on(log.replay("u", &after.to_string(), conn, T0 + n as u64)).unwrap();
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
