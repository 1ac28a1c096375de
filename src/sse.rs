//! SSE framing: live frames, the opening of a stream, and how a stream ends
//! (docs/PROTOCOL.md §3).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::sse::Event as SseEvent;
use futures_util::stream::{self, Stream, StreamExt};
use pqcall_signaling::Event;
use pqcall_signaling::event::AuthExpired;
use pqcall_signaling::stream::Opening;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::hub::{Frame, LiveQueue};

/// What ends a stream besides its client: the server shutting down, and the expiry of
/// the token it was opened with.
#[derive(Debug)]
pub(crate) struct Ends {
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// When the stream's token expires (Unix seconds).
    pub token_exp: u64,
}

/// Why a stream's response ends with an error: the connection is then closed at once,
/// without writing what was queued.
#[derive(Debug, thiserror::Error)]
#[error("the stream fell behind and was cut off")]
pub(crate) struct CutOff;

/// A stream's body: its opening, then the live events it has not sent yet. It ends at
/// shutdown; at its token's expiry after an `auth.expired` event; and with [`CutOff`]
/// when the hub cut it off for falling behind.
pub(crate) fn body(
    opening: Opening,
    live: LiveQueue,
    ends: Ends,
) -> impl Stream<Item = Result<SseEvent, CutOff>> + Send {
    let after = opening.after;
    let frames = ReceiverStream::new(live.rx).filter_map(move |f: Arc<Frame>| {
        std::future::ready(Opening::is_new(after, f.id).then(|| to_sse(&f)))
    });
    let (cut, cut_off) = (live.cut.clone(), live.cut);
    let expired = CancellationToken::new();
    let expiry = expired.clone();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let left = Duration::from_secs(ends.token_exp).saturating_sub(now);
    let shutdown = ends.shutdown;
    let token_exp = ends.token_exp;
    stream::iter(first_events(opening))
        .chain(frames)
        .take_until(async move { shutdown.cancelled().await })
        .take_until(cut.cancelled_owned())
        .take_until(async move {
            tokio::time::sleep(left).await;
            expiry.cancel();
        })
        .map(|e| Some(Ok(e)))
        .chain(stream::once(async move {
            if cut_off.is_cancelled() {
                Some(Err(CutOff))
            } else if expired.is_cancelled() {
                let e = Event::AuthExpired(AuthExpired {
                    expires_at: token_exp,
                });
                Some(Ok(SseEvent::default().event(e.name()).data(e.data_json())))
            } else {
                None
            }
        }))
        .filter_map(std::future::ready)
}

/// One frame as an SSE event (`id:` when it was logged).
pub(crate) fn to_sse(f: &Frame) -> SseEvent {
    let e = SseEvent::default().event(&f.name).data(&f.data);
    match f.id {
        Some(id) => e.id(id.to_string()),
        None => e,
    }
}

/// `hello`, then a `reset` or the replayed events.
fn first_events(o: Opening) -> Vec<SseEvent> {
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
