//! One node: the core in this process under one lock, the event log in memory, timers
//! as tasks, tickets and request rates in memory.
//!
//! Every decision runs under the core's lock together with its outputs (log append and
//! live push), so the order of events per user is the order of decisions, and a
//! stream's setup (connect, queue, replay) sees no event slip between its steps.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use pqcall_signaling::{Core, CoreConfig, Error, Event, LogConfig, MemoryLog, Output, Scope};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::aftermath::{record, settle, still_true};
use super::{
    Charge, Counts, Engine, Op, Opened, StreamLimits, StreamOpen, read_start, streams_full,
};
use crate::auth::Auth;
use crate::clock::now_ms;
use crate::hub::{Frame, Hub};
use crate::store::ChatStore;

/// The one-node engine. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Local(Arc<Inner>);

struct Inner {
    /// An async mutex: a decision's outputs are carried out before the next decision.
    core: Mutex<Core>,
    log: MemoryLog,
    hub: Arc<Hub>,
    auth: Arc<Auth>,
    limiter: DefaultKeyedRateLimiter<String>,
    /// The limiter's burst: the most one request can cost.
    burst: u32,
    streams: StreamLimits,
    /// Bytes the log may hold for all users together before new work is refused.
    max_log_bytes: usize,
    /// Call history and contacts (see [`settle`]).
    store: Arc<dyn ChatStore>,
    shutdown: CancellationToken,
}

/// How often the log is swept and idle rate-limit state dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(15);

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local").finish_non_exhaustive()
    }
}

impl Local {
    /// A core with `core`'s limits, a memory log with `log`'s window holding at most
    /// `max_log_bytes` in all, `rate_per_sec` requests a second per user (`burst` at once);
    /// finished calls and presence changes go through `store`.
    pub(crate) fn new(
        core: CoreConfig,
        (log, max_log_bytes): (LogConfig, usize),
        (rate_per_sec, burst): (u32, u32),
        streams: StreamLimits,
        (hub, auth, store): (Arc<Hub>, Arc<Auth>, Arc<dyn ChatStore>),
        shutdown: CancellationToken,
    ) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(nz(rate_per_sec)).allow_burst(nz(burst));
        Local(Arc::new(Inner {
            core: Mutex::new(Core::new(core)),
            // Epochs of a later start never repeat those of an earlier one (below a
            // million new user logs per ms of downtime).
            log: MemoryLog::new(log, now_ms().saturating_mul(1_000_000)),
            hub,
            auth,
            limiter: RateLimiter::keyed(quota),
            burst: burst.max(1),
            streams,
            max_log_bytes,
            store,
            shutdown,
        }))
    }
}

impl Inner {
    /// Logs and pushes deliveries, publishes ephemeral events, schedules timers. Call
    /// it under the core's lock. Finished calls go into the call history first;
    /// presence changes are returned for [`after`](Self::after) once the lock is released.
    /// Boxed: a timer's outputs may schedule timers, so the future type is recursive.
    fn carry_out(
        self: &Arc<Self>,
        outputs: Vec<Output>,
    ) -> BoxFuture<'_, Result<Vec<Output>, Error>> {
        Box::pin(async move {
            // One event for many users (a message to its members) is serialised once.
            let mut last: Option<(Event, Arc<str>)> = None;
            // A finished call is in the history before its final event goes out.
            for o in &outputs {
                if let Output::CallFinished(call) = o {
                    record(&*self.store, call).await;
                }
            }
            let mut later = Vec::new();
            for o in outputs {
                match o {
                    o @ Output::Presence { .. } => later.push(o),
                    Output::Deliver {
                        user,
                        audience,
                        event,
                    } => {
                        let data = match last.take() {
                            Some((e, data)) if e == event => data,
                            _ => event.data_json().into(),
                        };
                        // Only users who opened a stream have a log: an event for
                        // anyone else could never be read, so it is not kept.
                        let (now, name) = (now_ms(), event.name());
                        let logged = self
                            .log
                            .append(&user, audience, name, Arc::clone(&data), now);
                        if let Some(logged) = logged {
                            let frame = Arc::new(Frame::new(Some(logged.id), name, &data));
                            self.hub.send(&user, Some(&logged.audience), frame);
                        }
                        last = Some((event, data));
                    }
                    Output::Ephemeral { user, event } => {
                        let frame = Arc::new(Frame::new(None, event.name(), &event.data_json()));
                        self.hub.send(&user, None, frame);
                    }
                    Output::Timer { at, timer } => {
                        let inner = self.clone();
                        tokio::spawn(async move {
                            let wait = Duration::from_millis(at.saturating_sub(now_ms()));
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                _ = inner.shutdown.cancelled() => return,
                            }
                            let mut core = inner.core.lock().await;
                            let out = core.on_timer(now_ms(), &timer);
                            let done = inner.carry_out(out).await;
                            drop(core);
                            if let Err(e) = async { inner.after(done?).await }.await {
                                tracing::warn!(error = %e, "timer output failed");
                            }
                        });
                    }
                    Output::CallFinished(_) => {}
                }
            }
            Ok(later)
        })
    }

    /// Carries out what [`carry_out`](Self::carry_out) left (it already stored the
    /// finished calls): presence changes, read from the chat store's contacts without
    /// the core's lock, become `presence.changed` events, sent unless a later decision
    /// reversed them.
    async fn after(self: &Arc<Self>, later: Vec<Output>) -> Result<(), Error> {
        if later.is_empty() {
            return Ok(());
        }
        let events = settle(&*self.store, later).await;
        if events.is_empty() {
            return Ok(());
        }
        let core = self.core.lock().await;
        let events = still_true(events, |user| core.has_connections(user));
        self.carry_out(events).await.map(drop)
    }

    /// 503 `server_busy` while the log holds more than its budget.
    fn check_budget(&self) -> Result<(), Error> {
        if self.log.bytes() <= self.max_log_bytes {
            return Ok(());
        }
        tracing::warn!(
            bytes = self.log.bytes(),
            "event log budget spent: refusing work"
        );
        Err(Error::Busy {
            what: "event log memory",
            retry_after_secs: SWEEP_EVERY.as_secs(),
        })
    }

    async fn decide(self: &Arc<Self>, op: Op<'_>) -> Result<(), Error> {
        let mut core = self.core.lock().await;
        let out = op(&mut core)?;
        let later = self.carry_out(out).await?;
        drop(core);
        self.after(later).await
    }
}

impl Engine for Local {
    fn decide<'a>(
        &'a self,
        _scope: Scope,
        charge: Option<Charge<'a>>,
        op: Op<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let Some(c) = charge {
                self.check_rate(c.user, c.cost).await?;
                if c.new_work {
                    self.check_budget()?;
                }
            }
            self.0.decide(op).await
        })
    }

    fn decide_here<'a>(&'a self, op: Op<'a>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.0.decide(op))
    }

    fn perform(&self, outputs: Vec<Output>) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let order = self.0.core.lock().await;
            let later = self.0.carry_out(outputs).await?;
            drop(order);
            self.0.after(later).await
        })
    }

    fn fan_out_message<'a>(
        &'a self,
        outputs: Vec<Output>,
        _message_id: &'a str,
        inserted: bool,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // The memory log never fails halfway: a retry has nothing left to deliver.
        Box::pin(async move {
            if inserted {
                self.perform(outputs).await?;
            }
            Ok(())
        })
    }

    fn open_stream<'a>(&'a self, open: StreamOpen<'a>) -> BoxFuture<'a, Result<Opened, Error>> {
        Box::pin(async move {
            // Under the lock: the cap is checked and the stream counted in one step, and
            // nothing is decided between connecting, the replay and the pending offers.
            let mut core = self.0.core.lock().await;
            if self.0.hub.streams_of(open.user) >= self.0.streams.cap {
                return Err(streams_full());
            }
            let (connected, out) = core.connect(open.now, open.user, open.want, false);
            let conn = connected.conn_id;
            // Connecting may have dropped the user's longest-idle connection id.
            let mut later = self.0.carry_out(out).await?;
            let rx = self
                .0
                .hub
                .subscribe(open.stream_no, open.user, &conn, self.0.streams.queue);
            let start = match read_start(&self.0.log, &open, &conn).await {
                Ok(start) => start,
                Err(e) => {
                    self.0.hub.unsubscribe(open.user, open.stream_no);
                    let out = core.disconnect(now_ms(), &conn);
                    later.extend(self.0.carry_out(out).await?);
                    drop(core);
                    self.0.after(later).await?;
                    return Err(e);
                }
            };
            if start.resends_offers() {
                let out = core.pending_offers(open.user, &conn);
                later.extend(self.0.carry_out(out).await?);
            }
            drop(core);
            if let Err(e) = self.0.after(later).await {
                tracing::warn!(error = %e, "presence or call history after a stream opened");
            }
            Ok(Opened { conn, rx, start })
        })
    }

    fn close_stream<'a>(&'a self, _user: &'a str, conn: &'a str, _sub: u64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let done = self
                .0
                .decide(&|core| Ok(core.disconnect(now_ms(), conn)))
                .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "disconnect failed");
            }
        })
    }

    fn issue_ticket<'a>(
        &'a self,
        user: &'a str,
        token_exp: u64,
    ) -> BoxFuture<'a, Result<(String, u64), Error>> {
        Box::pin(async move { Ok(self.0.auth.issue_ticket(user, token_exp, now_ms())) })
    }

    fn redeem_ticket<'a>(&'a self, ticket: &'a str) -> BoxFuture<'a, Result<(String, u64), Error>> {
        Box::pin(async move { self.0.auth.redeem_ticket(ticket, now_ms()) })
    }

    fn check_budget(&self) -> Result<(), Error> {
        self.0.check_budget()
    }

    fn check_rate<'a>(&'a self, user: &'a str, cost: u32) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let cost = NonZeroU32::new(cost.clamp(1, self.0.burst)).unwrap_or(NonZeroU32::MIN);
            match self.0.limiter.check_key_n(&user.to_owned(), cost) {
                Ok(Ok(())) => Ok(()),
                // Never: the cost is at most the burst.
                Err(_) => Err(Error::RateLimited {
                    what: "requests per second",
                    retry_after_secs: 1,
                }),
                Ok(Err(not_until)) => Err(Error::RateLimited {
                    what: "requests per second",
                    retry_after_secs: not_until
                        .wait_time_from(DefaultClock::default().now())
                        .as_secs_f64()
                        .ceil()
                        .max(1.0) as u64,
                }),
            }
        })
    }

    fn log_bytes(&self) -> Option<u64> {
        Some(self.0.log.bytes() as u64)
    }

    fn ready(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }

    fn connections<'a>(&'a self, users: &'a [String]) -> BoxFuture<'a, Result<Vec<usize>, Error>> {
        Box::pin(async move {
            let core = self.0.core.lock().await;
            Ok(users.iter().map(|u| core.connections_of(u)).collect())
        })
    }

    fn counts(&self) -> BoxFuture<'_, Option<Counts>> {
        Box::pin(async move {
            let core = self.0.core.lock().await;
            let calls = core.calls_by_state().into_iter();
            let calls = calls.map(|(s, n)| (s, n as u64)).collect();
            Some((core.connection_count() as u64, calls))
        })
    }

    /// Timers are tasks of their own, spawned as the core sets them. One task sweeps:
    /// the log forgets what left the window and the logs of users who are gone, and the
    /// rate limiter forgets users whose buckets are full again.
    fn spawn_tasks(&self, shutdown: CancellationToken) {
        let inner = self.0.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.cancelled() => return,
                }
                let core = inner.core.lock().await;
                let dropped = inner.log.sweep(now_ms(), |user| core.has_connections(user));
                drop(core);
                inner.limiter.retain_recent();
                inner.limiter.shrink_to_fit();
                tracing::debug!(dropped, bytes = inner.log.bytes(), "swept the event log");
            }
        });
    }
}
