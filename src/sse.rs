//! SSE framing: live frames, and the opening of a stream (docs/PROTOCOL.md §3).

use std::time::Duration;

use axum::response::sse::Event as SseEvent;
use pqcall_signaling::stream::Opening;

use crate::hub::Frame;

/// One frame as an SSE event (`id:` when it was logged).
pub(crate) fn to_sse(f: &Frame) -> SseEvent {
    let e = SseEvent::default().event(&f.name).data(&f.data);
    match f.id {
        Some(id) => e.id(id.to_string()),
        None => e,
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `hello`, then a `reset` or the replayed events.
pub(crate) fn first_events(o: Opening) -> Vec<SseEvent> {
    let hello = SseEvent::default().retry(Duration::from_millis(o.retry_ms));
    let hello = match o.hello_id {
        Some(id) => hello.id(id.to_string()),
        None => hello,
    };
    let mut first = vec![hello.event("hello").data(json(&o.hello))];
    if let Some((id, reset)) = &o.reset {
        first.push(
            SseEvent::default()
                .id(id.to_string())
                .event("reset")
                .data(json(reset)),
        );
    }
    let replay = o.replay.into_iter();
    first.extend(replay.map(|e| {
        to_sse(&Frame {
            id: Some(e.id),
            name: e.name,
            data: e.data,
        })
    }));
    first
}
