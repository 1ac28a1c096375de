//! Property tests: random interleavings of offers, answers, ICE, confirms, declines,
//! ends, connects, disconnects and timer firings never break the call invariants.

mod common;
use std::collections::{BTreeMap, BTreeSet};

use common::*;
use pqcall_signaling::{CallState, CoreConfig};
use proptest::prelude::*;

const USERS: [&str; 3] = ["u0", "u1", "u2"];

#[derive(Debug, Clone)]
enum Op {
    Connect(usize),
    Disconnect(usize),
    Offer {
        from_conn: usize,
        to: usize,
    },
    Answer {
        call: usize,
        conn: usize,
    },
    Ice {
        call: usize,
        conn: usize,
    },
    Confirm {
        call: usize,
        conn: usize,
        caller: bool,
    },
    Decline {
        call: usize,
        conn: usize,
    },
    End {
        call: usize,
        conn: usize,
    },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Connect),
        (0..8usize).prop_map(Op::Disconnect),
        (0..8usize, 0..3usize).prop_map(|(from_conn, to)| Op::Offer { from_conn, to }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::Answer { call, conn }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::Ice { call, conn }),
        (0..6usize, 0..8usize, any::<bool>()).prop_map(|(call, conn, caller)| Op::Confirm {
            call,
            conn,
            caller
        }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::Decline { call, conn }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::End { call, conn }),
        prop_oneof![Just(1_000u64), Just(20_000), Just(46_000)].prop_map(Op::Advance),
    ]
}

fn run(ops: Vec<Op>) {
    let cfg = CoreConfig {
        max_ringing_per_caller: 10,
        offers_per_minute: 1000,
        ..CoreConfig::default()
    };
    let mut sim = Sim::new(cfg);
    let mut conns: Vec<String> = Vec::new();
    let mut calls: Vec<String> = Vec::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let pick = |v: &Vec<String>, i: usize| v.get(i % v.len().max(1)).cloned();

    for op in ops {
        // What everyone had before this step.
        let before: BTreeMap<String, usize> = sim
            .inbox
            .iter()
            .map(|(c, v)| (c.clone(), v.len()))
            .collect();
        let mut answered_by: Option<(String, String)> = None;
        match op {
            Op::Connect(u) => conns.push(sim.connect(USERS[u])),
            Op::Disconnect(i) => {
                if let Some(c) = pick(&conns, i) {
                    let out = sim.core.disconnect(sim.now, &c);
                    sim.perform(out);
                }
            }
            Op::Offer { from_conn, to } => {
                if let Some(c) = pick(&conns, from_conn) {
                    let user = sim.conns[&c].clone();
                    if let Ok((res, out)) =
                        sim.core.offer(sim.now, &user, &c, &v(offer_to(USERS[to])))
                    {
                        sim.perform(out);
                        calls.push(res.call_id);
                    }
                }
            }
            Op::Answer { call, conn } => {
                if let (Some(call), Some(c)) = (pick(&calls, call), pick(&conns, conn)) {
                    let user = sim.conns[&c].clone();
                    if let Ok((_, out)) = sim.core.answer(sim.now, &user, &c, &v(answer(&call))) {
                        sim.perform(out);
                        answered_by = Some((call, c));
                    }
                }
            }
            Op::Ice { call, conn }
            | Op::Confirm { call, conn, .. }
            | Op::Decline { call, conn }
            | Op::End { call, conn } => {
                if let (Some(call_id), Some(c)) = (pick(&calls, call), pick(&conns, conn)) {
                    let user = sim.conns[&c].clone();
                    let now = sim.now;
                    let r = match op {
                        Op::Ice { .. } => sim.core.ice(now, &user, &c, &v(ice(&call_id, 1))),
                        Op::Confirm { caller, .. } => {
                            sim.core
                                .confirm(now, &user, &c, &v(confirm(&call_id, caller)))
                        }
                        Op::Decline { .. } => {
                            sim.core.decline(now, &user, &c, &v(reason(&call_id)))
                        }
                        _ => sim.core.end(now, &user, &c, &v(reason(&call_id))),
                    };
                    if let Ok((_, out)) = r {
                        sim.perform(out);
                    }
                }
            }
            Op::Advance(ms) => sim.advance(ms),
        }

        // Check what this step delivered.
        for (conn, seen) in &sim.inbox {
            for s in &seen[before.get(conn).copied().unwrap_or(0)..] {
                let Some(call_id) = &s.call_id else { continue };
                assert!(
                    !finished.contains(call_id),
                    "{} for finished call {call_id} reached {conn}",
                    s.name
                );
                if let Some(call) = sim.core.call(call_id)
                    && let Some(callee_conn) = &call.callee_conn
                    && s.name != "call.answered_elsewhere"
                    && !(s.name == "call.ended" && call.state == CallState::Declined)
                {
                    assert!(
                        *conn == call.caller_conn || conn == callee_conn,
                        "{} of answered call {call_id} reached unbound {conn}",
                        s.name
                    );
                }
            }
        }
        if let Some((call_id, answering)) = answered_by {
            let callee = sim.conns[&answering].clone();
            for (conn, user) in &sim.conns {
                if *user == callee && *conn != answering {
                    assert!(
                        sim.inbox[conn]
                            .iter()
                            .any(|s| s.name == "call.answered_elsewhere"
                                && s.call_id.as_deref() == Some(call_id.as_str())),
                        "{conn} did not learn {call_id} was answered elsewhere"
                    );
                }
            }
        }
        for id in &calls {
            match sim.core.call(id) {
                Some(c) if c.state.is_final() => {
                    finished.insert(id.clone());
                }
                Some(c) if c.state == CallState::Ringing => {
                    assert!(
                        c.ring_deadline > sim.now,
                        "call {id} still rings past its timeout"
                    );
                }
                _ => {}
            }
        }
    }
    // Every ringing call ends by its timeout.
    sim.advance(46_000);
    for id in &calls {
        if let Some(c) = sim.core.call(id) {
            assert_ne!(
                c.state,
                CallState::Ringing,
                "call {id} outlived its ring timeout"
            );
        }
    }
    // Every call that reached a final state is kept in the call history exactly once,
    // with that state as its outcome.
    for id in &calls {
        let kept: Vec<_> = sim.finished.iter().filter(|r| r.call_id == *id).collect();
        match sim.core.call(id) {
            Some(c) if c.state.is_final() => {
                assert_eq!(kept.len(), 1, "call {id} kept {} times", kept.len());
                assert_eq!(kept[0].outcome, c.state);
                assert!(kept[0].started_at <= kept[0].ended_at);
            }
            Some(_) => assert!(kept.is_empty(), "unfinished call {id} in the history"),
            // Forgotten: it finished earlier, once.
            None => assert_eq!(
                kept.len(),
                1,
                "forgotten call {id} kept {} times",
                kept.len()
            ),
        }
    }
    // Presence flips: online first, then alternating, ending where the core stands.
    for user in USERS {
        let flips: Vec<bool> = sim
            .presence
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, on)| *on)
            .collect();
        for (i, on) in flips.iter().enumerate() {
            assert_eq!(*on, i % 2 == 0, "{user}'s presence flips {flips:?}");
        }
        let online = sim.core.connections_of(user) > 0;
        assert_eq!(flips.last().copied().unwrap_or(false), online, "{user}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_interleavings_keep_the_invariants(ops in prop::collection::vec(op(), 1..80)) {
        run(ops);
    }
}
