//! What every API response carries, in one layer: the request id (given by a proxy in
//! `x-request-id`, or a new UUID), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`, the route's latency in the metrics, a debug-level span
//! naming the method, path and request id (never the query: it can hold a ticket), and an
//! error event for every 5xx.
//!
//! This was six layers (tower-http's request-id pair, trace and two set-header layers,
//! and an axum `from_fn` for the metrics); together they cost about 15 % of the server's
//! CPU per relayed message (BENCHMARKS.md), most of it in boxing, cloning services and
//! growing header maps per layer. One hand-written layer does the same work once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::state::AppState;

/// The request id header.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps every route (see the module comment).
#[derive(Clone)]
pub(crate) struct EnvelopeLayer {
    state: AppState,
}

impl EnvelopeLayer {
    pub(crate) fn new(state: AppState) -> Self {
        EnvelopeLayer { state }
    }
}

impl<S> Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;

    fn layer(&self, inner: S) -> Envelope<S> {
        Envelope {
            inner,
            state: self.state.clone(),
        }
    }
}

/// [`EnvelopeLayer`]'s service.
#[derive(Clone)]
pub(crate) struct Envelope<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Envelope<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        // Only the response and the span carry a new id: nothing reads it from the
        // request, so it is not added there (a copy and a header map's growth saved).
        let id = match req.headers().get(REQUEST_ID) {
            Some(given) => given.clone(),
            None => {
                let mut text = uuid::Uuid::encode_buffer();
                let new = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
                HeaderValue::from_str(new).unwrap_or(HeaderValue::from_static("-"))
            }
        };
        let route = req.extensions().get::<MatchedPath>().cloned();
        let span = tracing::debug_span!(
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            request_id = id.to_str().unwrap_or_default(),
        );
        let response = self.inner.call(req);
        let state = self.state.clone();
        Box::pin(
            async move {
                let mut res = response.await?;
                let latency = start.elapsed();
                let route = route.as_ref().map_or("other", MatchedPath::as_str);
                (state.0.metrics).observe(route.to_owned(), latency.as_secs_f64());
                let status = res.status();
                if status.is_server_error() {
                    tracing::error!(%status, latency_ms = latency.as_millis() as u64, "response failed");
                } else {
                    tracing::debug!(%status, latency_ms = latency.as_millis() as u64, "response");
                }
                // Each only where the handler did not set its own.
                let headers = res.headers_mut();
                headers.reserve(3);
                headers.entry(REQUEST_ID).or_insert(id);
                let nosniff = HeaderValue::from_static("nosniff");
                headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(nosniff);
                let no_referrer = HeaderValue::from_static("no-referrer");
                headers.entry(header::REFERRER_POLICY).or_insert(no_referrer);
                Ok(res)
            }
            .instrument(span),
        )
    }
}
