//! One open stream's queue of live frames: bounded, filled by the hub, emptied by the
//! stream's body. A full queue means its reader fell behind: the hub cuts the stream
//! off instead of buffering more.
//!
//! Hand-written rather than a `tokio::sync::mpsc` channel for its size: an idle stream
//! holds one small allocation (a lock, a deque that allocates on the first frame, two
//! waker slots), where a channel's padded shared state and first block of slots cost
//! ~0.8 KB per stream (measured with massif, docs/profiles/idle-stream-memory.md), most of the
//! memory of an idle stream after HTTP/2's own.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::task::AtomicWaker;

use crate::hub::Frame;

/// How a queue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Frames may come.
    Open,
    /// The hub let go of it (unsubscribed, shutdown): the stream ends after what is queued.
    Closed,
    /// Its reader fell behind: the stream ends now, with an error.
    Cut,
    /// The stream is gone: the hub drops its side at the next frame.
    Gone,
}

#[derive(Debug)]
struct State {
    frames: VecDeque<Arc<Frame>>,
    end: End,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The task reading frames.
    reader: AtomicWaker,
    /// The task waiting for a cut (the same task, polled through another future).
    cut: AtomicWaker,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn end(&self, end: End) {
        let mut s = self.lock();
        if s.end == End::Open {
            s.end = end;
        }
        drop(s);
        self.reader.wake();
        self.cut.wake();
    }
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue holds its capacity: the stream was cut off.
    Full,
    /// The stream is gone.
    Gone,
}

/// The hub's side of a queue. Dropping it ends the stream after what is queued.
#[derive(Debug)]
pub(crate) struct Sender {
    shared: Arc<Shared>,
    capacity: usize,
}

impl Sender {
    /// Queues `frame`; when the queue is full, cuts the stream off instead.
    pub fn push(&self, frame: Arc<Frame>) -> Result<(), Refused> {
        let mut s = self.shared.lock();
        match s.end {
            End::Open if s.frames.len() < self.capacity => s.frames.push_back(frame),
            End::Open => {
                s.end = End::Cut;
                s.frames = VecDeque::new();
                drop(s);
                self.shared.reader.wake();
                self.shared.cut.wake();
                return Err(Refused::Full);
            }
            _ => return Err(Refused::Gone),
        }
        drop(s);
        self.shared.reader.wake();
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.shared.end(End::Closed);
    }
}

/// The stream's side: the frames in order, ending when the hub lets go or cuts it off
/// (its [`probe`](LiveQueue::probe) tells which). Dropping it tells the hub.
#[derive(Debug)]
pub struct LiveQueue {
    shared: Arc<Shared>,
}

/// A queue of at most `capacity` frames: the hub's side and the stream's.
pub(crate) fn queue(capacity: usize) -> (Sender, LiveQueue) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::new(),
            end: End::Open,
        }),
        reader: AtomicWaker::new(),
        cut: AtomicWaker::new(),
    });
    let tx = Sender {
        shared: shared.clone(),
        capacity: capacity.max(1),
    };
    (tx, LiveQueue { shared })
}

impl LiveQueue {
    /// A handle that outlives the queue's use as a stream: [`CutProbe::cut`] resolves
    /// when the stream is cut off, and [`CutProbe::is_cut`] says whether it was.
    pub fn probe(&self) -> CutProbe {
        CutProbe(self.shared.clone())
    }
}

impl Stream for LiveQueue {
    type Item = Arc<Frame>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Arc<Frame>>> {
        let mut s = self.shared.lock();
        if s.end == End::Cut {
            return Poll::Ready(None);
        }
        if let Some(f) = s.frames.pop_front() {
            return Poll::Ready(Some(f));
        }
        if s.end != End::Open {
            return Poll::Ready(None);
        }
        // Registered under the lock: a push after it wakes this task.
        self.shared.reader.register(cx.waker());
        Poll::Pending
    }
}

impl Drop for LiveQueue {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        if s.end == End::Open {
            s.end = End::Gone;
        }
        s.frames = VecDeque::new();
    }
}

/// See [`LiveQueue::probe`].
#[derive(Debug, Clone)]
pub struct CutProbe(Arc<Shared>);

impl CutProbe {
    /// Whether the stream was cut off.
    pub fn is_cut(&self) -> bool {
        self.0.lock().end == End::Cut
    }

    /// Resolves when the stream is cut off.
    pub fn cut(self) -> impl Future<Output = ()> + Send {
        std::future::poll_fn(move |cx| {
            let s = self.0.lock();
            if s.end == End::Cut {
                return Poll::Ready(());
            }
            self.0.cut.register(cx.waker());
            Poll::Pending
        })
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    fn frame(n: u8) -> Arc<Frame> {
        Arc::new(Frame::new(None, "app.n", &n.to_string()))
    }

    #[tokio::test]
    async fn frames_in_order_then_the_end_when_the_hub_lets_go() {
        let (tx, mut rx) = queue(4);
        for n in 0..3 {
            tx.push(frame(n)).unwrap();
        }
        drop(tx);
        let mut got = vec![];
        while let Some(f) = rx.next().await {
            got.push(f.sse.clone());
        }
        assert_eq!(got.len(), 3, "what was queued is still sent");
        assert!(!rx.probe().is_cut());
    }

    #[tokio::test]
    async fn a_full_queue_cuts_the_stream_off_at_once() {
        let (tx, mut rx) = queue(2);
        let probe = rx.probe();
        tx.push(frame(0)).unwrap();
        tx.push(frame(1)).unwrap();
        assert_eq!(tx.push(frame(2)), Err(Refused::Full));
        assert_eq!(tx.push(frame(3)), Err(Refused::Gone));
        assert!(
            rx.next().await.is_none(),
            "nothing queued is sent after a cut"
        );
        assert!(probe.is_cut());
        probe.cut().await;
    }

    #[tokio::test]
    async fn a_waiting_reader_is_woken_by_a_push() {
        let (tx, mut rx) = queue(1);
        let reader = tokio::spawn(async move { rx.next().await.is_some() });
        tokio::task::yield_now().await;
        tx.push(frame(0)).unwrap();
        assert!(reader.await.unwrap());
    }

    #[test]
    fn a_dropped_reader_makes_the_hub_let_go() {
        let (tx, rx) = queue(1);
        drop(rx);
        assert_eq!(tx.push(frame(0)), Err(Refused::Gone));
    }
}
