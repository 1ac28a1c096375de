//! A Rust client for the protocol (feature `client`): typed POST helpers and an event
//! stream that resumes by itself with its connection id and last event id, so an app
//! that embeds calls gets every event once, in order, across network blips.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use pqcall_signaling::Event;
use pqcall_signaling::activity::{
    CallHistoryResponse, ConversationsResponse, PageRequest, PresenceRequest, PresenceResponse,
    ReadRequest,
};
use pqcall_signaling::api::*;
use pqcall_signaling::event::{Hello, Reset};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Everything that can go wrong on the client side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The HTTP request failed (connection, timeout, body).
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// The server refused the request with a protocol error.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The protocol's error code.
        code: String,
        /// The server's sentence.
        message: String,
        /// The existing call, for `glare`.
        call_id: Option<String>,
    },
    /// An event could not be decoded.
    #[error("undecodable {name} event: {reason}")]
    Decode {
        /// The event name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The stream was closed by [`EventStream::close`].
    #[error("the event stream is closed")]
    Closed,
}

/// One item of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// The stream (re)opened.
    Hello(Hello),
    /// Events were missed: reload state (`/api/messages/load`).
    Reset(Reset),
    /// An event; `id` is absent for ephemeral ones (typing).
    Event {
        /// Its log id.
        id: Option<String>,
        /// The event.
        event: Event,
    },
}

/// A pqcall server and the token to act with.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

type Raw = Pin<
    Box<
        dyn Stream<
                Item = Result<
                    eventsource_stream::Event,
                    eventsource_stream::EventStreamError<reqwest::Error>,
                >,
            > + Send,
    >,
>;

/// The event stream of one device. [`EventStream::next`] reconnects by itself.
pub struct EventStream {
    client: Client,
    conn_id: Option<String>,
    last_id: Option<String>,
    inner: Option<Raw>,
    failures: u32,
    closed: bool,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("conn_id", &self.conn_id)
            .field("last_id", &self.last_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`, or `https://…`:
    /// rustls with the platform's roots, HTTP/2 when the server offers it by ALPN).
    pub fn new(base: impl Into<String>, token: impl Into<String>) -> Self {
        Self::with_http(base, token, reqwest::Client::new())
    }

    /// A client that sends through `http`: for a server whose certificate only
    /// `http` trusts (`reqwest::ClientBuilder::add_root_certificate`), a proxy, or h2c
    /// (`http2_prior_knowledge`).
    pub fn with_http(
        base: impl Into<String>,
        token: impl Into<String>,
        http: reqwest::Client,
    ) -> Self {
        Client {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
            token: token.into(),
        }
    }

    /// POSTs `body` to `path`, acting for connection `conn` when given.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        conn: Option<&str>,
    ) -> Result<R, ClientError> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body);
        if let Some(c) = conn {
            req = req.header("X-Pqcall-Conn", c);
        }
        read(path, req.send().await?).await
    }

    /// `GET /api/ice-servers`: STUN and TURN servers, with TURN credentials for this
    /// user; fetch again before `expires_at`.
    pub async fn ice_servers(&self) -> Result<IceServersResponse, ClientError> {
        let path = "/api/ice-servers";
        let req = self.http.get(format!("{}{path}", self.base));
        read(path, req.bearer_auth(&self.token).send().await?).await
    }

    /// Opens this user's event stream (a new device).
    pub fn events(&self) -> EventStream {
        self.events_from(None, None)
    }

    /// Opens the stream of a device that saved its connection id and last event id
    /// (for example across an app restart): it resumes there, or gets a
    /// [`StreamItem::Reset`] when the server can no longer replay from that id.
    pub fn events_from(
        &self,
        conn_id: Option<String>,
        last_event_id: Option<String>,
    ) -> EventStream {
        EventStream {
            client: self.clone(),
            conn_id,
            last_id: last_event_id,
            inner: None,
            failures: 0,
            closed: false,
        }
    }

    /// `POST /api/calls/offer`
    pub async fn offer(
        &self,
        conn: &str,
        req: &OfferRequest,
    ) -> Result<OfferResponse, ClientError> {
        self.post("/api/calls/offer", req, Some(conn)).await
    }
    /// `POST /api/calls/answer`
    pub async fn answer(
        &self,
        conn: &str,
        req: &AnswerRequest,
    ) -> Result<CallStateResponse, ClientError> {
        self.post("/api/calls/answer", req, Some(conn)).await
    }
    /// `POST /api/calls/confirm`
    pub async fn confirm(
        &self,
        conn: &str,
        req: &ConfirmRequest,
    ) -> Result<CallStateResponse, ClientError> {
        self.post("/api/calls/confirm", req, Some(conn)).await
    }
    /// `POST /api/calls/ice`
    pub async fn ice(
        &self,
        conn: &str,
        req: &IceRequest,
    ) -> Result<CallStateResponse, ClientError> {
        self.post("/api/calls/ice", req, Some(conn)).await
    }
    /// `POST /api/calls/decline`
    pub async fn decline(
        &self,
        conn: &str,
        req: &CallIdReason,
    ) -> Result<CallStateResponse, ClientError> {
        self.post("/api/calls/decline", req, Some(conn)).await
    }
    /// `POST /api/calls/end`
    pub async fn end(
        &self,
        conn: &str,
        req: &CallIdReason,
    ) -> Result<CallStateResponse, ClientError> {
        self.post("/api/calls/end", req, Some(conn)).await
    }
    /// `POST /api/calls/update`: a new offer (ICE restart; the caller's wins a glare)
    /// or the answer to one, in an active call.
    pub async fn update(
        &self,
        conn: &str,
        req: &UpdateRequest,
    ) -> Result<CallStateResponse, ClientError> {
        self.post("/api/calls/update", req, Some(conn)).await
    }
    /// `POST /api/messages/send` (retry with the same `client_msg_id` to be idempotent)
    pub async fn send(&self, req: &SendRequest) -> Result<SendResponse, ClientError> {
        self.post("/api/messages/send", req, None).await
    }
    /// `POST /api/conversations/create`
    pub async fn create_conversation(
        &self,
        req: &CreateConversationRequest,
    ) -> Result<CreateConversationResponse, ClientError> {
        self.post("/api/conversations/create", req, None).await
    }
    /// `POST /api/messages/load`
    pub async fn load(&self, req: &LoadRequest) -> Result<LoadResponse, ClientError> {
        self.post("/api/messages/load", req, None).await
    }
    /// `POST /api/conversations/list`: this user's conversations, latest activity first,
    /// with unread counts.
    pub async fn conversations(
        &self,
        req: &PageRequest,
    ) -> Result<ConversationsResponse, ClientError> {
        self.post("/api/conversations/list", req, None).await
    }
    /// `POST /api/messages/read`: moves this user's read marker forward.
    pub async fn mark_read(&self, req: &ReadRequest) -> Result<(), ClientError> {
        self.post("/api/messages/read", req, None).await
    }
    /// `POST /api/presence/query` (users who share a conversation with this one).
    pub async fn presence(&self, req: &PresenceRequest) -> Result<PresenceResponse, ClientError> {
        self.post("/api/presence/query", req, None).await
    }
    /// `POST /api/calls/history`: this user's finished calls, newest first.
    pub async fn call_history(
        &self,
        req: &PageRequest,
    ) -> Result<CallHistoryResponse, ClientError> {
        self.post("/api/calls/history", req, None).await
    }
}

/// The body of a response to `path`: its JSON, or the protocol error it carries.
async fn read<R: DeserializeOwned>(path: &str, res: reqwest::Response) -> Result<R, ClientError> {
    let status = res.status().as_u16();
    if status == 204 {
        return serde_json::from_value(serde_json::Value::Null).map_err(|e| ClientError::Decode {
            name: path.into(),
            reason: e.to_string(),
        });
    }
    let bytes = res.bytes().await?;
    if status >= 400 {
        let err: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        return Err(match err {
            Some(e) => ClientError::Api {
                status,
                code: e.error.code,
                message: e.error.message,
                call_id: e.error.call_id,
            },
            None => ClientError::Api {
                status,
                code: "http_error".into(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
                call_id: None,
            },
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
        name: path.into(),
        reason: e.to_string(),
    })
}

impl EventStream {
    /// This device's connection id, once the stream has said hello.
    pub fn conn_id(&self) -> Option<&str> {
        self.conn_id.as_deref()
    }

    /// The id to resume after.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Drops the current connection; the next [`EventStream::next`] resumes.
    pub fn interrupt(&mut self) {
        self.inner = None;
    }

    /// The stream as a [`Stream`] of what [`EventStream::next`] returns, ending after
    /// [`EventStream::close`] (or once the server refuses it for good).
    pub fn into_stream(self) -> impl Stream<Item = Result<StreamItem, ClientError>> + Send {
        futures_util::stream::unfold(Some(self), |s| async move {
            let mut s = s?;
            match s.next().await {
                Err(ClientError::Closed) => None,
                item => Some((item, Some(s))),
            }
        })
    }

    /// Ends the stream for good.
    pub fn close(&mut self) {
        self.closed = true;
        self.inner = None;
    }

    async fn open(&mut self) -> Result<Raw, ClientError> {
        // Connection and event ids are server-made: hex digits, digits and '-'.
        let safe = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let mut url = format!("{}/api/events?", self.client.base);
        if let Some(c) = self.conn_id.as_deref().filter(|c| safe(c)) {
            url.push_str(&format!("conn_id={c}&"));
        }
        if let Some(l) = self.last_id.as_deref().filter(|l| safe(l)) {
            url.push_str(&format!("last_event_id={l}"));
        }
        let res = self
            .client
            .http
            .get(url)
            .bearer_auth(&self.client.token)
            .send()
            .await?;
        let status = res.status().as_u16();
        if status >= 400 {
            let body = res.bytes().await.unwrap_or_default();
            let err: Option<ErrorBody> = serde_json::from_slice(&body).ok();
            return Err(ClientError::Api {
                status,
                code: err
                    .as_ref()
                    .map_or("http_error".into(), |e| e.error.code.clone()),
                message: err.map_or_else(
                    || String::from_utf8_lossy(&body).into_owned(),
                    |e| e.error.message,
                ),
                call_id: None,
            });
        }
        Ok(Box::pin(res.bytes_stream().eventsource()))
    }

    /// The next item, reconnecting (with backoff) and resuming as needed.
    /// Auth failures (401) are returned, not retried.
    pub async fn next(&mut self) -> Result<StreamItem, ClientError> {
        loop {
            if self.closed {
                return Err(ClientError::Closed);
            }
            let Some(inner) = self.inner.as_mut() else {
                if self.failures > 0 {
                    let ms = (100u64 << self.failures.min(6)).min(5000);
                    tokio::time::sleep(Duration::from_millis(
                        ms / 2 + (ms / 2) * u64::from(self.failures % 3) / 2,
                    ))
                    .await;
                }
                match self.open().await {
                    Ok(s) => self.inner = Some(s),
                    Err(ClientError::Api {
                        status: 401,
                        code,
                        message,
                        call_id,
                    }) => {
                        return Err(ClientError::Api {
                            status: 401,
                            code,
                            message,
                            call_id,
                        });
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "event stream: reconnecting");
                        self.failures += 1;
                    }
                }
                continue;
            };
            match inner.next().await {
                Some(Ok(e)) => {
                    if !e.id.is_empty() {
                        self.last_id = Some(e.id.clone());
                    }
                    let id = (!e.id.is_empty()).then(|| e.id.clone());
                    let decode = |x: serde_json::Error| ClientError::Decode {
                        name: e.event.clone(),
                        reason: x.to_string(),
                    };
                    let event = Event::parse(&e.event, &e.data).map_err(decode)?;
                    return Ok(match event {
                        Event::Hello(h) => {
                            self.conn_id = Some(h.conn_id.clone());
                            self.failures = 0;
                            StreamItem::Hello(h)
                        }
                        Event::Reset(r) => StreamItem::Reset(r),
                        event => StreamItem::Event { id, event },
                    });
                }
                Some(Err(err)) => {
                    tracing::debug!(error = %err, "event stream broke: resuming");
                    self.inner = None;
                    self.failures += 1;
                }
                None => {
                    self.inner = None;
                    self.failures += 1;
                }
            }
        }
    }
}
