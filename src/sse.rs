//! SSE on the wire (docs/PROTOCOL.md §3): frames encoded once and shared by every stream
//! they go to, the opening of a stream, heartbeats, and how a stream ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use pqcall_signaling::event::AuthExpired;
use pqcall_signaling::stream::Opening;
use pqcall_signaling::{Event, EventId};
use tokio::time::{Instant, Sleep};
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
    // JSON has no line breaks: one search (memchr's, vectorised) finds none.
    let mut rest = data;
    loop {
        let end = memchr::memchr(b'\n', rest.as_bytes());
        let line = &rest[..end.unwrap_or(rest.len())];
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
        match end {
            Some(i) => rest = &rest[i + 1..],
            None => break,
        }
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
///
/// A frame only notes the time it went out; the timer is not moved for it (moving a
/// timer takes the runtime's timer lock, once per frame of every stream). When the timer
/// fires it is moved to `every` after the last frame if one went out since, and the
/// comment is sent only when the silence is whole.
pub(crate) struct Heartbeat<S> {
    inner: Pin<Box<S>>,
    every: Duration,
    /// When the last frame (or comment) went out.
    last: Instant,
    beat: Pin<Box<Sleep>>,
}

impl<S> Heartbeat<S> {
    /// `inner` with a comment after each `every` of silence.
    pub fn new(inner: S, every: Duration) -> Self {
        let last = Instant::now();
        Heartbeat {
            inner: Box::pin(inner),
            every,
            last,
            beat: Box::pin(tokio::time::sleep_until(last + every)),
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
            self.last = Instant::now();
            return Poll::Ready(item);
        }
        loop {
            ready!(self.beat.as_mut().poll(cx));
            let due = self.last + self.every;
            if self.beat.deadline() >= due {
                let now = Instant::now();
                self.last = now;
                let next = now + self.every;
                self.beat.as_mut().reset(next);
                return Poll::Ready(Some(Ok(Bytes::from_static(b": keep-alive\n\n"))));
            }
            // A frame went out since the timer was set: wait out the rest of the silence.
            self.beat.as_mut().reset(due);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_heartbeat_follows_a_whole_silence_only() {
        let beat = || Some(Ok(Bytes::from_static(b": keep-alive\n\n")));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<Bytes, ()>>();
        let inner = stream::poll_fn(move |cx| rx.poll_recv(cx));
        let start = Instant::now();
        let mut hb = Heartbeat::new(inner, Duration::from_secs(10));
        // Nothing sent: the comment comes after 10 s, and again 10 s later.
        assert_eq!(hb.next().await, beat());
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert_eq!(hb.next().await, beat());
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        // A frame 6 s later: the next comment is 10 s after the frame.
        tokio::time::sleep(Duration::from_secs(6)).await;
        tx.send(Ok(Bytes::from_static(b"x"))).unwrap();
        assert_eq!(hb.next().await, Some(Ok(Bytes::from_static(b"x"))));
        assert_eq!(hb.next().await, beat());
        assert_eq!(start.elapsed(), Duration::from_secs(36));
    }

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
