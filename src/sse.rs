//! SSE framing: live frames, and the opening of a stream (docs/PROTOCOL.md §3).

use std::time::Duration;

use axum::response::sse::Event as SseEvent;
use pqcall_signaling::Event;
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

/// `hello`, then a `reset` or the replayed events.
pub(crate) fn first_events(o: Opening) -> Vec<SseEvent> {
    let frame = SseEvent::default().retry(Duration::from_millis(o.retry_ms));
    let frame = match o.hello_id {
        Some(id) => frame.id(id.to_string()),
        None => frame,
    };
    let hello = Event::Hello(o.hello);
    let mut first = vec![frame.event(hello.name()).data(hello.data_json())];
    if let Some((id, reset)) = o.reset {
        let reset = Event::Reset(reset);
        let e = SseEvent::default().id(id.to_string());
        first.push(e.event(reset.name()).data(reset.data_json()));
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
