//! `GET /api/events`: the Server-Sent Events stream (docs/PROTOCOL.md §3).
//!
//! The engine opens the stream (cap, connection, live queue, replay) and the core's
//! [`Opening`] says what it sends first and which live events it skips; this file only
//! turns that into SSE.

use std::mem::take;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use futures_util::stream::StreamExt;
use pqcall_signaling::stream::Opening;
use serde::Deserialize;

use super::extract::bearer;
use crate::clock::now_ms;
use crate::engine::{Opened, StreamOpen};
use crate::error::ApiError;
use crate::sse::{self, Ends, Heartbeat};
use crate::state::AppState;

/// Query parameters of the stream.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// A single-use ticket (browsers).
    pub ticket: Option<String>,
    /// The device's previous connection id.
    pub conn_id: Option<String>,
    /// Resume after this id (when the header is absent).
    pub last_event_id: Option<String>,
}

/// Unregisters the stream when the client goes away or the stream ends.
struct Guard(AppState, String, String, u64);

impl Drop for Guard {
    fn drop(&mut self) {
        let Guard(state, user, conn, stream_no) = self;
        state.0.hub.unsubscribe(user, *stream_no);
        let (state, user, conn, stream_no) = (state.clone(), take(user), take(conn), *stream_no);
        // Inside the runtime (a response body); if the runtime is gone, nothing is left.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { state.0.engine.close_stream(&user, &conn, stream_no).await });
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
    let (user, token_exp) = match &q.ticket {
        Some(t) => state.redeem_ticket(t).await?,
        None => state.0.auth.verify_claims(bearer(&headers)?)?,
    };
    // Opening a stream costs what a request costs: churning opens is rate limited.
    state.check_rate(&user).await?;
    let header = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let last_id = header
        .or(q.last_event_id.as_deref())
        .filter(|s| !s.is_empty());
    let (user, stream_no) = (user.as_str(), state.0.hub.reserve_id());
    let open = StreamOpen::new(user, q.conn_id.as_deref(), last_id, stream_no, now);
    let Opened { conn, rx, start } = state.open_stream(open).await?;
    let guard = Guard(state.clone(), user.to_owned(), conn.clone(), stream_no);
    state.0.metrics.count_start(&start);
    let opening = Opening::new(user, &conn, start, now);
    tracing::info!(conn = %conn, resumed = opening.hello.resumed, "stream opened");

    let ends = Ends {
        shutdown: state.shutdown_token(),
        token_exp,
    };
    let body = sse::body(opening, rx, ends).map(move |e| {
        let _ = &guard; // unregisters the stream when the body is dropped
        e
    });
    let beat = Duration::from_millis(state.0.config.heartbeat_ms);
    let body = axum::body::Body::from_stream(Heartbeat::new(body, beat));
    let mut res = Response::new(body);
    let headers = res.headers_mut();
    let h = HeaderValue::from_static;
    headers.insert(header::CONTENT_TYPE, h("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, h("no-cache"));
    headers.insert("x-accel-buffering", h("no"));
    Ok(res)
}
