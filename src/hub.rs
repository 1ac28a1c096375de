//! Live fan-out to open streams. Each stream has a bounded queue; a stream whose queue
//! is full is cut off at once (its response ends with an error, which closes the
//! connection without writing what was queued; its client resumes from its last id),
//! so memory never grows because one reader stopped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use prometheus_client::metrics::counter::Counter;

use pqcall_signaling::{Audience, EventId};

pub use crate::live_queue::LiveQueue;
use crate::live_queue::{Refused, Sender, queue};

/// One event as it goes on the wire: its SSE frame, encoded once for every stream of
/// its user (docs/PROTOCOL.md §3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The log id (none for ephemeral events).
    pub id: Option<EventId>,
    /// `id:`, `event:` and `data:` lines and the blank line that ends them.
    pub sse: Bytes,
}

impl Frame {
    /// The frame of event `name` with JSON `data`, logged as `id` (ephemeral: none).
    pub fn new(id: Option<EventId>, name: &str, data: &str) -> Self {
        Frame {
            id,
            sse: crate::sse::encode(id, name, data, None),
        }
    }
}

struct Sub {
    /// The stream's number on this node.
    id: u64,
    /// The connection id it serves.
    conn: String,
    tx: Sender,
}

/// Open streams by user.
pub struct Hub {
    subs: Mutex<HashMap<String, Vec<Sub>>>,
    next: AtomicU64,
    slow_ends: Counter<u64, AtomicU64>,
    delivered: Counter<u64, AtomicU64>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("streams", &self.open_streams())
            .finish()
    }
}

impl Hub {
    /// A hub counting into these metrics.
    pub fn new(delivered: Counter<u64, AtomicU64>, slow_ends: Counter<u64, AtomicU64>) -> Self {
        Hub {
            subs: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            slow_ends,
            delivered,
        }
    }

    /// A fresh stream id, for [`Hub::subscribe`].
    pub fn reserve_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers stream `id` (from [`Hub::reserve_id`]) of `user`'s connection `conn`.
    pub fn subscribe(&self, id: u64, user: &str, conn: &str, capacity: usize) -> LiveQueue {
        let (tx, rx) = queue(capacity);
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        subs.entry(user.to_owned()).or_default().push(Sub {
            id,
            conn: conn.to_owned(),
            tx,
        });
        rx
    }

    /// Removes a stream.
    pub fn unsubscribe(&self, user: &str, id: u64) {
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = subs.get_mut(user) {
            v.retain(|s| s.id != id);
            if v.is_empty() {
                subs.remove(user);
            }
        }
    }

    /// Queues a frame to `user`'s streams that `audience` includes (all when `None`).
    pub fn send(&self, user: &str, audience: Option<&Audience>, frame: Arc<Frame>) {
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(v) = subs.get_mut(user) else { return };
        v.retain(|s| {
            if audience.is_some_and(|a| !a.includes(&s.conn)) {
                return true;
            }
            match s.tx.push(frame.clone()) {
                Ok(()) => {
                    self.delivered.inc();
                    true
                }
                Err(Refused::Full) => {
                    self.slow_ends.inc();
                    tracing::info!(conn = %s.conn, "stream queue full: cutting the stream off");
                    false
                }
                Err(Refused::Gone) => false,
            }
        });
        if v.is_empty() {
            subs.remove(user);
        }
    }

    /// Open streams of one user.
    pub fn streams_of(&self, user: &str) -> usize {
        let subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        subs.get(user).map_or(0, Vec::len)
    }

    /// Every open stream: its user, connection id and number (a cluster renews their
    /// leases).
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    pub fn streams(&self) -> Vec<(String, String, u64)> {
        let subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = Vec::new();
        for (user, v) in subs.iter() {
            all.extend(v.iter().map(|s| (user.clone(), s.conn.clone(), s.id)));
        }
        all
    }

    /// Open streams in total.
    pub fn open_streams(&self) -> usize {
        let subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        subs.values().map(Vec::len).sum()
    }

    /// Ends every stream (shutdown).
    pub fn close_all(&self) {
        self.subs.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
