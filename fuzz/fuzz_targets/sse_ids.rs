//! SSE event ids as a client sends them back (`Last-Event-ID`, `last_event_id`): any
//! string parses or not without a panic, a parsed id prints back as itself, and the
//! replay rule answers events or `reset` for any id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqcall_signaling::log::replay_rule;
use pqcall_signaling::{Audience, EventId, LoggedEvent, Replay};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(id) = EventId::parse(s) {
        assert_eq!(EventId::parse(&id.to_string()), Some(id));
    }
    let events: Vec<LoggedEvent> = (5..=9)
        .map(|seq| LoggedEvent {
            id: EventId { epoch: 77, seq },
            audience: Audience::All,
            name: "x".into(),
            data: "{}".into(),
            at: 0,
        })
        .collect();
    match replay_rule(77, 9, 4, events.iter(), s, "conn") {
        Replay::Events(evs) => assert!(evs.len() <= 5),
        Replay::Reset { newest, .. } => assert_eq!(newest, EventId { epoch: 77, seq: 9 }),
    }
});
