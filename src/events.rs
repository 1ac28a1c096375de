//! `GET /api/events`: the Server-Sent Events stream (docs/PROTOCOL.md §3).
//!
//! Setup runs under the core lock, so nothing is appended between the replay and the
//! moment the stream's live queue exists: no gap, and (ids are compared) no duplicate.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use pqcall_signaling::event::{Hello, Reset};
use pqcall_signaling::{Error, EventId, Replay, Scope};
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ApiError;
use crate::hub::Frame;
use crate::routes::user_of;
use crate::state::{AppState, now_ms};

/// Query parameters of the stream.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// A single-use ticket (browsers).
    pub ticket: Option<String>,
    /// The device's previous connection id.
    pub conn_id: Option<String>,
    /// Resume after this id (when the header is absent).
    pub last_event_id: Option<String>,
}

fn to_sse(f: &Frame) -> SseEvent {
    let e = SseEvent::default().event(&f.name).data(&f.data);
    match f.id {
        Some(id) => e.id(id.to_string()),
        None => e,
    }
}

/// Unregisters the stream when the client goes away or the stream ends.
struct Guard {
    state: AppState,
    user: String,
    conn: String,
    sub: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.state.0.hub.unsubscribe(&self.user, self.sub);
        let (state, conn) = (self.state.clone(), self.conn.clone());
        // Dropped inside the runtime (a response body); if the runtime is gone there
        // is nothing left to clean up.
        let (user, sub) = (self.user.clone(), self.sub);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                #[cfg(feature = "cluster")]
                if let Some(shared) = state.shared() {
                    shared.release_stream_slot(&user, sub).await;
                    // Closed with its lease in one commit; if another node already
                    // closed it, nothing happens, and on error the lease expires and
                    // some node closes it then.
                    if let Err(e) = shared.close_stream(&user, &conn, sub).await {
                        tracing::warn!(error = %e, "closing a stream (its lease will expire)");
                    }
                    return;
                }
                let _ = sub;
                let now = now_ms();
                let scope = Scope::users([user.as_str()]);
                let done = state
                    .decide(scope, |core| Ok(((), core.disconnect(now, &conn))))
                    .await;
                if let Err(e) = done {
                    tracing::warn!(error = %e, "disconnect failed");
                }
            });
        }
    }
}

/// `GET /api/events`
#[utoipa::path(get, path = "/api/events", tag = "events", params(EventsQuery, ("Last-Event-ID" = Option<String>, Header, description = "resume after this id")), security(("bearer" = []), ()), responses((status = 200, content_type = "text/event-stream", description = "hello, then every event of the user; see docs/PROTOCOL.md §3"), (status = "4XX", body = pqcall_signaling::api::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let user = match &q.ticket {
        Some(t) => state.redeem_ticket(t).await?,
        None => user_of(&state, &headers)?,
    };
    if !state.live_ready() {
        return Err(Error::Unavailable(
            "live events are not reaching this node; try another".into(),
        )
        .into());
    }
    let sub = state.0.hub.reserve_id();
    let cap = state.0.config.max_streams_per_user;
    // In cluster mode the cap counts the user's streams on every node (a slot not
    // renewed, as when this request fails below, frees itself).
    #[cfg(feature = "cluster")]
    let full = match state.shared() {
        Some(shared) => !shared.take_stream_slot(&user, sub, cap).await?,
        None => state.0.hub.streams_of(&user) >= cap,
    };
    #[cfg(not(feature = "cluster"))]
    let full = state.0.hub.streams_of(&user) >= cap;
    if full {
        return Err(Error::RateLimited {
            what: "streams per user",
            retry_after_secs: 5,
        }
        .into());
    }
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.last_event_id.clone())
        .filter(|s| !s.is_empty());

    // One process: the core's lock is held until the stream is set up, so nothing is
    // decided between connecting and the pending offers. Cluster mode: two
    // transactions (a fresh device may then see an offer twice; clients ignore an
    // offer whose call id they know).
    let mut local = if state.is_cluster() {
        None
    } else {
        Some(state.0.core.lock().await)
    };
    let want = q.conn_id.as_deref();
    let conn = match local.as_mut() {
        Some(core) => core.connect(now, &user, want, false).0.conn_id,
        // Cluster mode: counted open together with its lease (or not at all).
        None => state.open_stream(now, &user, want, sub).await?,
    };
    let rx = state
        .0
        .hub
        .subscribe(sub, &user, &conn, state.0.config.stream_queue);
    let guard = Guard {
        state: state.clone(),
        user: user.clone(),
        conn: conn.clone(),
        sub,
    };

    let mut first: Vec<SseEvent> = Vec::new();
    let mut replayed: Vec<SseEvent> = Vec::new();
    let mut resumed = false;
    let mut fresh = true;
    let mut after: Option<EventId> = None;
    if let Some(last) = &last_id {
        match state.0.log.replay(&user, last, &conn, now).await? {
            Replay::Events(evs) => {
                state.0.metrics.replays.inc();
                resumed = true;
                fresh = false;
                after = EventId::parse(last);
                for e in evs {
                    after = Some(e.id);
                    replayed.push(to_sse(&Frame {
                        id: Some(e.id),
                        name: e.name,
                        data: e.data,
                    }));
                }
            }
            Replay::Reset { reason, newest } => {
                state.0.metrics.resets.inc();
                after = Some(newest);
                let data = serde_json::to_string(&Reset {
                    reason: reason.as_str().to_owned(),
                })
                .unwrap_or_default();
                replayed.push(
                    SseEvent::default()
                        .id(newest.to_string())
                        .event("reset")
                        .data(data),
                );
            }
        }
    }
    let hello = Hello {
        conn_id: conn.clone(),
        user_id: user.clone(),
        resumed,
    };
    let mut hello_event = SseEvent::default()
        .retry(Duration::from_millis(1000 + now % 2000))
        .event("hello")
        .data(serde_json::to_string(&hello).unwrap_or_default());
    // A stream with no position yet gets the log's newest id on `hello`, so that its
    // first reconnect resumes from here and misses nothing (docs/PROTOCOL.md is silent on
    // this; see README). Resumed and reset streams get their position from the
    // replayed events or the `reset` event.
    if last_id.is_none() {
        let newest = state.0.log.newest(&user).await?;
        after = Some(newest);
        hello_event = hello_event.id(newest.to_string());
    }
    first.push(hello_event);
    first.extend(replayed);
    if fresh {
        match local.as_mut() {
            Some(core) => {
                let out = core.pending_offers(&user, &conn);
                state.perform(out).await?;
            }
            None => {
                let scope = Scope::users([user.as_str()]);
                state
                    .decide(scope, |core| Ok(((), core.pending_offers(&user, &conn))))
                    .await?;
            }
        }
    }
    drop(local);
    tracing::info!(conn = %conn, resumed, "stream opened");

    let live = ReceiverStream::new(rx).filter_map(move |f: Arc<Frame>| {
        // Drop anything the replay already sent.
        let keep = match (f.id, after) {
            (Some(id), Some(a)) => id.epoch != a.epoch || id.seq > a.seq,
            _ => true,
        };
        std::future::ready(keep.then(|| to_sse(&f)))
    });
    let shutdown = state.shutdown_token();
    let body = stream::iter(first)
        .chain(live)
        .take_until(async move { shutdown.cancelled().await })
        .map(move |e| {
            let _ = &guard;
            Ok::<_, Infallible>(e)
        });
    let sse = Sse::new(Box::pin(body)
        as std::pin::Pin<
            Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>,
        >)
    .keep_alive(
        KeepAlive::new()
            .interval(Duration::from_millis(state.0.config.heartbeat_ms))
            .text("keep-alive"),
    );
    let mut res = sse.into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(res)
}
