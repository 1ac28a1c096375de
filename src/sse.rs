//! SSE on the wire (docs/PROTOCOL.md §3): frames encoded once and shared by every stream
//! they go to, the opening of a stream, heartbeats, and how a stream ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use pqcall_signaling::event::AuthExpired;
use pqcall_signaling::stream::Opening;
use pqcall_signaling::{Event, EventId};
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

/// The SSE encoding of one event: `retry:` (for `hello`), `id:` (for logged events),
/// `event:` and one `data:` line per line of `data` (one-line JSON has one).
pub(crate) fn encode(id: Option<EventId>, name: &str, data: &str, retry: Option<u64>) -> Bytes {
    // Written piece by piece rather than with `write!`: this runs for every event.
    let mut num = itoa::Buffer::new();
    let mut out = String::with_capacity(data.len() + name.len() + 64);
    if let Some(ms) = retry {
        out.push_str("retry: ");
        out.push_str(num.format(ms));
        out.push('\n');
    }
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(num.format(id.epoch));
        out.push('-');
        out.push_str(num.format(id.seq));
        out.push('\n');
    }
    out.push_str("event: ");
    out.push_str(name);
    out.push('\n');
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// A stream's body: its opening, then the live events it has not sent yet, each the
/// frame its user's streams share. It ends at shutdown; at its token's expiry after an
/// `auth.expired` event; and with [`CutOff`] when the hub cut it off for falling behind.
pub(crate) fn body(
    opening: Opening,
    live: LiveQueue,
    ends: Ends,
) -> impl Stream<Item = Result<Bytes, CutOff>> + Send {
    let after = opening.after;
    let (cut, cut_off) = (live.probe(), live.probe());
    let frames = live.filter_map(move |f: Arc<Frame>| {
        std::future::ready(Opening::is_new(after, f.id).then(|| f.sse.clone()))
    });
    let expired = CancellationToken::new();
    let expiry = expired.clone();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let left = Duration::from_secs(ends.token_exp).saturating_sub(now);
    let shutdown = ends.shutdown;
    let token_exp = ends.token_exp;
    first_frames(opening)
        .chain(frames)
        .take_until(async move { shutdown.cancelled().await })
        .take_until(cut.cut())
        .take_until(async move {
            tokio::time::sleep(left).await;
            expiry.cancel();
        })
        .map(|e| Some(Ok(e)))
        .chain(stream::once(async move {
            if cut_off.is_cut() {
                Some(Err(CutOff))
            } else if expired.is_cancelled() {
                let e = Event::AuthExpired(AuthExpired {
                    expires_at: token_exp,
                });
                Some(Ok(encode(None, e.name(), &e.data_json(), None)))
            } else {
                None
            }
        }))
        .filter_map(std::future::ready)
}

/// `hello`, then a `reset` or the replayed events. The replay is framed as it is sent:
/// until then a stream holds only pointers to the log's events, so a reader that does
/// not read costs no copy of its replay.
fn first_frames(o: Opening) -> impl Stream<Item = Bytes> + Send {
    let hello = Event::Hello(o.hello);
    let retry = Some(o.retry_ms);
    let mut first = vec![encode(o.hello_id, hello.name(), &hello.data_json(), retry)];
    if let Some((id, reset)) = o.reset {
        let reset = Event::Reset(reset);
        first.push(encode(Some(id), reset.name(), &reset.data_json(), None));
    }
    let replay = o.replay.into_iter();
    let replay = replay.map(|e| encode(Some(e.id), &e.name, &e.data, None));
    stream::iter(first).chain(stream::iter(replay))
}

/// A body stream with a `: keep-alive` comment whenever nothing was sent for `every`,
/// so proxies and clients see a live connection (and a dead one is found by writing).
pub(crate) struct Heartbeat<S> {
    inner: Pin<Box<S>>,
    beat: tokio::time::Interval,
}

impl<S> Heartbeat<S> {
    /// `inner` with a comment after each `every` of silence.
    pub fn new(inner: S, every: Duration) -> Self {
        let start = tokio::time::Instant::now() + every;
        let mut beat = tokio::time::interval_at(start, every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Heartbeat {
            inner: Box::pin(inner),
            beat,
        }
    }
}

impl<S, E> Stream for Heartbeat<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = self.inner.as_mut().poll_next(cx) {
            self.beat.reset();
            return Poll::Ready(item);
        }
        match self.beat.poll_tick(cx) {
            Poll::Ready(_) => Poll::Ready(Some(Ok(Bytes::from_static(b": keep-alive\n\n")))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_has_its_retry_id_event_and_one_data_line_per_line() {
        let id = EventId { epoch: 17, seq: 4 };
        let frame = encode(Some(id), "call.ice", "{\"a\":1}\r\n{}", Some(3000));
        let want = "retry: 3000\nid: 17-4\nevent: call.ice\ndata: {\"a\":1}\ndata: {}\n\n";
        assert_eq!(frame, Bytes::from(want));
        assert_eq!(
            encode(None, "typing", "{}", None),
            "event: typing\ndata: {}\n\n"
        );
    }
}
