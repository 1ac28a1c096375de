//! A connection's task polled again in place when it wakes itself, rather than handed back
//! to the scheduler.
//!
//! hyper's HTTP/1 dispatcher wakes its own task once per request with a body: the request
//! body is a channel from the dispatcher to the handler, and when the handler (running
//! inside the same task) takes the body's bytes, the channel wakes the dispatcher to say
//! its slot is free (hyper 1.12, `body/chan.rs`; earlier releases did the same when the
//! body was dropped). Tokio's multi-threaded runtime treats a task woken during its own
//! poll as a yield: it puts the task at the back of the run queue and, when another worker
//! is parked and none is looking for work, *wakes that worker* to steal it. On a server
//! that is not saturated that is a `futex` wake, a thread that wakes, finds nothing and
//! parks again, for every request: a system call pair and two context switches per
//! relayed message (docs/profiles/relay.md).
//!
//! [`Repoll`] gives the connection future a waker of its own. A wake that arrives while
//! the future is being polled is recorded and answered by polling the future again at
//! once, on the same thread, up to [`REPOLLS`] times; then the task yields as before. That
//! bound also covers a future that yields on purpose by waking itself (hyper's dispatcher
//! does after 16 passes over a pipelined connection): it runs at most `REPOLLS + 1` times
//! per turn of its task, so one connection cannot starve the others. A wake at any other
//! time goes straight to the task's waker. No wake is lost: the flag is read and cleared in
//! one atomic swap after each poll, and a wake after that swap is forwarded. Wakes that
//! tokio defers (a task out of its cooperative budget) arrive after the poll and are
//! forwarded, so they still yield.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// How many times one poll of the task may poll the future again for its own wakes.
const REPOLLS: usize = 3;

/// The future is being polled.
const POLLING: u8 = 1;
/// It was woken while being polled.
const WOKEN: u8 = 2;

/// The waker [`Repoll`] hands to its future.
#[derive(Debug, Default)]
struct Shared {
    state: AtomicU8,
    task: AtomicWaker,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.state.fetch_or(WOKEN, Ordering::AcqRel) & POLLING == 0 {
            self.task.wake();
        }
    }
}

/// `F`, polled again in place when it wakes itself (see the module comment).
pub(crate) struct Repoll<F> {
    inner: Pin<Box<F>>,
    shared: Arc<Shared>,
    waker: Waker,
}

impl<F: Future> Repoll<F> {
    pub(crate) fn new(inner: F) -> Self {
        let shared = Arc::new(Shared::default());
        Repoll {
            inner: Box::pin(inner),
            waker: Waker::from(shared.clone()),
            shared,
        }
    }

    /// The wrapped future, to call its own methods.
    pub(crate) fn inner(&mut self) -> Pin<&mut F> {
        self.inner.as_mut()
    }
}

impl<F: Future> Future for Repoll<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        // Before registering, so that a wake from another thread in between is one of
        // this poll's too.
        this.shared.state.store(POLLING, Ordering::Release);
        this.shared.task.register(cx.waker());
        for _ in 0..=REPOLLS {
            this.shared.state.store(POLLING, Ordering::Release);
            let mut own = Context::from_waker(&this.waker);
            if let Poll::Ready(out) = this.inner.as_mut().poll(&mut own) {
                this.shared.state.store(0, Ordering::Release);
                return Poll::Ready(out);
            }
            if this.shared.state.swap(0, Ordering::AcqRel) & WOKEN == 0 {
                return Poll::Pending;
            }
        }
        // Still waking itself: let the scheduler run the others first.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its polls; wakes itself during the first `self_wakes` of them.
    struct SelfWaking {
        polls: Arc<AtomicUsize>,
        self_wakes: usize,
        ready_at: usize,
    }

    impl Future for SelfWaking {
        type Output = usize;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let n = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= self.ready_at {
                return Poll::Ready(n);
            }
            if n <= self.self_wakes {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        }
    }

    /// A task waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A [`SelfWaking`] in a [`Repoll`], its poll count, and a task waker that counts.
    struct Setup {
        f: Repoll<SelfWaking>,
        polls: Arc<AtomicUsize>,
        task_wakes: Arc<Count>,
        waker: Waker,
    }

    impl Setup {
        fn new(self_wakes: usize, ready_at: usize) -> Self {
            let polls = Arc::new(AtomicUsize::new(0));
            let inner = SelfWaking {
                polls: polls.clone(),
                self_wakes,
                ready_at,
            };
            let task_wakes = Arc::new(Count::default());
            Setup {
                f: Repoll::new(inner),
                polls,
                waker: Waker::from(task_wakes.clone()),
                task_wakes,
            }
        }

        /// One turn of the task: polls the `Repoll`.
        fn turn(&mut self) -> Poll<usize> {
            Pin::new(&mut self.f).poll(&mut Context::from_waker(&self.waker))
        }

        fn polls(&self) -> usize {
            self.polls.load(Ordering::SeqCst)
        }

        fn task_wakes(&self) -> usize {
            self.task_wakes.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn a_self_wake_is_answered_in_place_without_waking_the_task() {
        let mut t = Setup::new(1, usize::MAX);
        assert!(t.turn().is_pending());
        assert_eq!(t.polls(), 2, "polled again at once");
        assert_eq!(t.task_wakes(), 0, "the task was not woken");
    }

    #[test]
    fn a_future_that_keeps_waking_itself_yields_after_the_bound() {
        let mut t = Setup::new(usize::MAX, usize::MAX);
        assert!(t.turn().is_pending());
        assert_eq!(t.polls(), REPOLLS + 1);
        assert_eq!(t.task_wakes(), 1, "the task yields");
    }

    #[test]
    fn a_future_ready_on_its_second_poll_needs_no_task_wake() {
        let mut t = Setup::new(1, 2);
        assert_eq!(t.turn(), Poll::Ready(2));
        assert_eq!(t.task_wakes(), 0);
    }

    #[test]
    fn a_wake_between_polls_reaches_the_task() {
        let mut t = Setup::new(0, 2);
        assert!(t.turn().is_pending());
        // Something the future waits for happens: it wakes the waker it was given.
        t.f.waker.wake_by_ref();
        assert_eq!(t.task_wakes(), 1);
        assert_eq!(t.turn(), Poll::Ready(2));
    }

    #[test]
    fn a_wake_from_another_thread_during_the_poll_is_answered_in_place() {
        struct WokenElsewhere(usize);
        impl Future for WokenElsewhere {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                self.0 += 1;
                if self.0 > 1 {
                    return Poll::Ready(());
                }
                let waker = cx.waker().clone();
                std::thread::spawn(move || waker.wake()).join().unwrap();
                Poll::Pending
            }
        }
        let mut f = Repoll::new(WokenElsewhere(0));
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let poll = Pin::new(&mut f).poll(&mut Context::from_waker(&waker));
        assert_eq!(poll, Poll::Ready(()));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    /// Many wakes from another thread, each racing the poll: a lost one would hang.
    #[test]
    fn no_wake_from_another_thread_is_lost() {
        const N: u32 = 20_000;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
        let sender = std::thread::spawn(move || {
            for i in 0..N {
                tx.blocking_send(i).unwrap();
            }
        });
        let received = rt.block_on(async move {
            let receive = Repoll::new(async move {
                let mut n = 0;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                n
            });
            tokio::time::timeout(std::time::Duration::from_secs(120), tokio::spawn(receive))
                .await
                .expect("every wake reached the task")
                .unwrap()
        });
        sender.join().unwrap();
        assert_eq!(received, N);
    }

    /// A future that yields through tokio on purpose (here, for each of many rounds)
    /// still runs to its end.
    #[test]
    fn tokio_yields_inside_still_finish() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let done = rt.block_on(async {
            let work = Repoll::new(async {
                for _ in 0..1_000 {
                    tokio::task::yield_now().await;
                }
                true
            });
            tokio::spawn(work).await.unwrap()
        });
        assert!(done);
    }
}
