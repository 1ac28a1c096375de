//! A cluster node's background work: firing due timers from the shared set, renewing
//! this node's stream leases, closing streams whose lease expired, and relaying live
//! events from Redis pub/sub into this node's streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use pqcall_signaling::{Error, Scope, Timer};
use tokio_util::sync::CancellationToken;

use super::LiveStream;
use super::channels::Channels;
use super::log::{RedisLog, unavailable};
use super::records::{Cluster, due_members};
use crate::clock::now_ms;
use crate::hub::Hub;

impl Cluster {
    /// Due timers, oldest first, and when the next one is due.
    pub(super) async fn due_timers(&self, now: u64) -> Result<(Vec<String>, Option<u64>), Error> {
        let mut con = self.con.clone();
        let (due, next): (Vec<String>, Vec<(String, f64)>) = redis::pipe()
            .add_command(due_members(self.timers_key(), now))
            .cmd("ZRANGE")
            .arg(self.timers_key())
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok((due, next.first().map(|(_, at)| *at as u64)))
    }

    /// Fires one due timer (any node may; the commit makes it count once).
    pub(super) async fn fire(&self, member: &str) -> Result<(), Error> {
        let Some((timer, seeds)) = serde_json::from_str::<Timer>(member)
            .ok()
            .and_then(|t| Scope::of_timer(&t).map(|s| (t, s)))
        else {
            tracing::warn!("dropping an unreadable timer");
            return self
                .transact(Scope::default(), Some(member), |_| Ok(((), Vec::new())))
                .await;
        };
        self.transact(seeds, Some(member), |core| {
            Ok(((), core.on_timer(now_ms(), &timer)))
        })
        .await
    }
}

/// The timer and lease loop of one node: fires due timers from the shared set,
/// renews this node's stream leases and closes streams whose lease expired, until
/// shutdown.
pub(super) async fn run_timers(shared: Arc<Cluster>, hub: Arc<Hub>, shutdown: CancellationToken) {
    let mut renew_at = 0;
    loop {
        let now = now_ms();
        if now >= renew_at {
            renew_at = now + shared.lease_ms / 3;
            if let Err(e) = shared
                .renew_streams(super::streams::open_streams(&hub))
                .await
            {
                tracing::warn!(error = %e, "renewing stream leases");
            }
            match shared.reap_streams(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(streams = n, "closed streams of a node that went away"),
                Err(e) => tracing::warn!(error = %e, "closing expired streams"),
            }
        }
        let wait = match shared.due_timers(now).await {
            Ok((due, next)) => {
                let mut failed = false;
                for member in &due {
                    if let Err(e) = shared.fire(member).await {
                        tracing::warn!(error = %e, "firing a timer");
                        failed = true;
                    }
                }
                match (due.is_empty(), failed) {
                    (_, true) => 500,
                    (false, false) => 0,
                    (true, false) => next.map_or(500, |at| at.saturating_sub(now).min(500)),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading timers");
                500
            }
        };
        // Sleep until the next look; a timer this node adds moves it earlier only when
        // it is due sooner (a ring timeout is not), so adding one reads nothing.
        let mut deadline = now + wait;
        loop {
            let left = deadline.saturating_sub(now_ms());
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(left)) => break,
                _ = shared.timer_added.notified() => {
                    let at = shared.earliest_added.swap(u64::MAX, Ordering::SeqCst);
                    deadline = deadline.min(at);
                }
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

/// Whether this node holds a stream of a user: live events for anyone else are dropped
/// before they are parsed.
pub(super) fn holds_streams(hub: &Arc<Hub>) -> impl Fn(&str) -> bool + Send + 'static {
    let hub = hub.clone();
    move |user| hub.streams_of(user) > 0
}

/// Pushes live events from Redis pub/sub into this node's streams. When the subscription
/// breaks, every local stream is ended so that its client resumes from its last id (the
/// log has everything published meanwhile), then it subscribes again; `ready` is false
/// in between, and streams are refused.
pub(super) async fn relay_live(
    url: String,
    mut live: LiveStream,
    (hub, channels): (Arc<Hub>, Arc<Channels>),
    ready: Arc<AtomicBool>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            // A subscription change Redis did not confirm in time: the connection is
            // as good as lost (half-open), so it is replaced like a lost one.
            _ = channels.broken.notified() => live = Box::pin(futures_util::stream::empty()),
            item = live.next() => match item {
                Some(f) => hub.send(&f.user, Some(&f.audience), Arc::new(f.frame)),
                None => {
                    tracing::warn!("live event subscription lost: ending local streams so clients resume");
                    ready.store(false, Ordering::SeqCst);
                    hub.close_all();
                    loop {
                        match RedisLog::live(&url, holds_streams(&hub)).await {
                            Ok((sink, s)) => {
                                channels.replace(sink).await;
                                live = Box::pin(s);
                                // A stream that opened while the loss went unnoticed may
                                // have missed a live event: end it too, so it resumes.
                                hub.close_all();
                                ready.store(true, Ordering::SeqCst);
                                tracing::info!("live event subscription back");
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "resubscribing");
                                tokio::select! {
                                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                                    _ = shutdown.cancelled() => return,
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
