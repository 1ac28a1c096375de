//! Cluster mode's claim, checked: running each operation on a scratch core that holds
//! only the records of the operation's closure ([`Scope::closure_step`]) gives the same
//! answers, the same outputs and the same state as one core that holds everything.

mod common;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use pqcall_signaling::{
    Call, Core, CoreConfig, Error, IdSource, Output, Records, Scope, Timer, UserRecord,
};
use proptest::prelude::*;

const USERS: [&str; 3] = ["u0", "u1", "u2"];

/// Ids from a counter both engines share the value of.
struct Counter(Arc<AtomicU64>);
impl IdSource for Counter {
    fn next_id(&mut self) -> String {
        format!("{:032x}", self.0.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// Records in a map, as a shared store holds them.
#[derive(Default)]
struct Store {
    users: BTreeMap<String, UserRecord>,
    calls: BTreeMap<String, Call>,
}

impl Store {
    /// Loads an operation's closure, runs it on a scratch core, writes back what
    /// changed inside the closure. Panics if the operation touched anything outside.
    fn run<R>(
        &mut self,
        cfg: &CoreConfig,
        ids: &Arc<AtomicU64>,
        seeds: &Scope,
        op: impl FnOnce(&mut Core) -> Result<(R, Vec<Output>), Error>,
    ) -> Result<(R, Vec<Output>), Error> {
        let mut loaded = Records::default();
        let mut attempted = Scope::default();
        for step in 0..3 {
            let next = seeds.closure_step(&loaded, step);
            for u in next.users {
                if let Some(r) = self.users.get(&u) {
                    loaded.users.insert(u.clone(), r.clone());
                }
                attempted.users.push(u);
            }
            for c in next.calls {
                if let Some(r) = self.calls.get(&c) {
                    loaded.calls.insert(c.clone(), r.clone());
                }
                attempted.calls.push(c);
            }
        }
        let mut core = Core::with_ids(cfg.clone(), Box::new(Counter(ids.clone())));
        let before_calls: Vec<String> = loaded.calls.keys().cloned().collect();
        core.import(&loaded);
        let res = op(&mut core)?;
        let after = core.export();
        for (u, r) in &after.users {
            assert!(
                attempted.users.contains(u),
                "{u} written outside the closure"
            );
            self.users.insert(u.clone(), r.clone());
        }
        for u in &attempted.users {
            if !after.users.contains_key(u) {
                self.users.remove(u);
            }
        }
        for (c, r) in after.calls {
            let new = !before_calls.contains(&c);
            assert!(
                new || attempted.calls.contains(&c),
                "{c} written outside the closure"
            );
            self.calls.insert(c, r);
        }
        for c in &before_calls {
            if !core.export().calls.contains_key(c) {
                self.calls.remove(c);
            }
        }
        Ok(res)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Connect(usize),
    Disconnect(usize),
    Offer { from_conn: usize, to: usize },
    Answer { call: usize, conn: usize },
    Ice { call: usize, conn: usize },
    Confirm { call: usize, conn: usize },
    Decline { call: usize, conn: usize },
    End { call: usize, conn: usize },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Connect),
        (0..8usize).prop_map(Op::Disconnect),
        (0..8usize, 0..3usize).prop_map(|(from_conn, to)| Op::Offer { from_conn, to }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::Answer { call, conn }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::Ice { call, conn }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::Confirm { call, conn }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::Decline { call, conn }),
        (0..6usize, 0..8usize).prop_map(|(call, conn)| Op::End { call, conn }),
        prop_oneof![Just(1_000u64), Just(31_000), Just(46_000), Just(301_000)]
            .prop_map(Op::Advance),
    ]
}

type Answer = Result<(String, Vec<Output>), Error>;

fn run(ops: Vec<Op>) {
    let cfg = CoreConfig {
        max_ringing_per_caller: 10,
        offers_per_minute: 1000,
        ..CoreConfig::default()
    };
    let full_ids = Arc::new(AtomicU64::new(0));
    let store_ids = Arc::new(AtomicU64::new(0));
    let mut full = Core::with_ids(cfg.clone(), Box::new(Counter(full_ids.clone())));
    let mut store = Store::default();
    let mut now = T0;
    let mut conns: Vec<(String, String)> = Vec::new();
    let mut calls: Vec<String> = Vec::new();
    let mut timers: Vec<(u64, Timer)> = Vec::new();
    let pick = |v: &Vec<String>, i: usize| v.get(i % v.len().max(1)).cloned();

    for op in ops {
        // Both engines get the same operation; compare what each answers.
        let mut both = |seeds: Scope, f: &dyn Fn(&mut Core) -> Answer| {
            let a = f(&mut full);
            let b = store.run(&cfg, &store_ids, &seeds, f);
            assert_eq!(a, b, "the scratch core answered differently");
            a.ok()
        };
        let conn_at = |i: usize| conns.get(i % conns.len().max(1)).cloned();
        let out = match op {
            Op::Connect(u) => {
                let user = USERS[u];
                both(Scope::users([user]), &|c| {
                    let (k, out) = c.connect(now, user, None, true);
                    Ok((k.conn_id, out))
                })
                .map(|(conn, out)| {
                    conns.push((conn, user.to_owned()));
                    out
                })
            }
            Op::Disconnect(i) => conn_at(i).and_then(|(conn, user)| {
                both(Scope::users([user.as_str()]), &|c| {
                    Ok((String::new(), c.disconnect(now, &conn)))
                })
                .map(|(_, o)| o)
            }),
            Op::Offer { from_conn, to } => conn_at(from_conn).and_then(|(conn, user)| {
                let to = USERS[to];
                let req = v(offer_to(to));
                both(Scope::users([user.as_str(), to]), &|c| {
                    c.offer(now, &user, &conn, &req)
                        .map(|(r, o)| (r.call_id, o))
                })
                .map(|(call, o)| {
                    calls.push(call);
                    o
                })
            }),
            Op::Answer { call, conn }
            | Op::Ice { call, conn }
            | Op::Confirm { call, conn }
            | Op::Decline { call, conn }
            | Op::End { call, conn } => {
                let (Some(call_id), Some((conn, user))) = (pick(&calls, call), conn_at(conn))
                else {
                    continue;
                };
                let seeds = Scope::users([user.as_str()]).with_call(&call_id);
                let op2 = op.clone();
                let (ans, ice2) = (v(answer(&call_id)), v(ice(&call_id, 2)));
                let (conf_a, conf_b) = (v(confirm(&call_id, true)), v(confirm(&call_id, false)));
                let why = v(reason(&call_id));
                both(seeds, &move |c| {
                    let r = match op2 {
                        Op::Answer { .. } => c.answer(now, &user, &conn, &ans),
                        Op::Ice { .. } => c.ice(now, &user, &conn, &ice2),
                        Op::Confirm { .. } => {
                            let caller = c.call(&call_id).is_some_and(|k| k.caller == user);
                            let req = if caller { &conf_a } else { &conf_b };
                            c.confirm(now, &user, &conn, req)
                        }
                        Op::Decline { .. } => c.decline(now, &user, &conn, &why),
                        _ => c.end(now, &user, &conn, &why),
                    };
                    r.map(|(s, o)| (s.state.as_str().to_owned(), o))
                })
                .map(|(_, o)| o)
            }
            Op::Advance(ms) => {
                let until = now + ms;
                loop {
                    timers.sort_by_key(|(at, _)| *at);
                    match timers.first() {
                        Some((at, _)) if *at <= until => {
                            let (at, timer) = timers.remove(0);
                            now = at.max(now);
                            let seeds = Scope::of_timer(&timer).expect("no typing here");
                            let out =
                                both(seeds, &|c| Ok((String::new(), c.on_timer(now, &timer))));
                            timers.extend(out.into_iter().flat_map(|(_, o)| o).filter_map(|o| {
                                match o {
                                    Output::Timer { at, timer } => Some((at, timer)),
                                    _ => None,
                                }
                            }));
                        }
                        _ => break,
                    }
                }
                now = until;
                None
            }
        };
        for o in out.into_iter().flatten() {
            if let Output::Timer { at, timer } = o {
                timers.push((at, timer));
            }
        }
        // And the stored records are exactly the full core's state.
        let all = full.export();
        assert_eq!(store.users, all.users);
        assert_eq!(store.calls, all.calls);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn the_closure_holds_everything_an_operation_touches(ops in prop::collection::vec(op(), 1..80)) {
        run(ops);
    }
}

#[test]
fn records_round_trip_through_json() {
    let ids = Arc::new(AtomicU64::new(0));
    let mut core = Core::with_ids(CoreConfig::default(), Box::new(Counter(ids)));
    let (a, _) = core.connect(T0, "alice", None, true);
    core.connect(T0, "bob", None, true);
    core.offer(T0, "alice", &a.conn_id, &v(offer_to("bob")))
        .unwrap();
    let r = core.export();
    assert_eq!(r.users.len(), 2);
    assert_eq!(r.calls.len(), 1);
    for u in r.users.values() {
        let json = serde_json::to_string(u).unwrap();
        assert_eq!(&serde_json::from_str::<UserRecord>(&json).unwrap(), u);
    }
    for c in r.calls.values() {
        let json = serde_json::to_string(c).unwrap();
        assert_eq!(&serde_json::from_str::<Call>(&json).unwrap(), c);
    }
    let mut copy = Core::new(CoreConfig::default());
    copy.import(&r);
    assert_eq!(copy.export(), r);
}
