//! The POST endpoints (docs/PROTOCOL.md §4). Each checks, in order: auth (401), size (413),
//! shape (400/422), then hands the request to the core or the chat rules.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pqcall_signaling::api::*;
use pqcall_signaling::chat::{self, Join};
use pqcall_signaling::{Error, Scope, publish};
use serde::de::DeserializeOwned;

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

/// docs/PROTOCOL.md §1: the body limit.
pub const BODY_LIMIT: usize = 64 * 1024;

type ApiResult<T> = Result<T, ApiError>;

fn bearer(headers: &HeaderMap) -> Result<&str, Error> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Error::Unauthorized("missing bearer token".into()))
}

/// The user of the request's token.
pub fn user_of(state: &AppState, headers: &HeaderMap) -> Result<String, Error> {
    state.0.auth.verify(bearer(headers)?)
}

async fn body_bytes(body: Body) -> Result<Bytes, Error> {
    axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| Error::PayloadTooLarge { limit: BODY_LIMIT })
}

/// docs/PROTOCOL.md §1 steps 1-4: auth, size, shape, rate.
async fn read<T: DeserializeOwned + Validate>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, T), Error> {
    let user = user_of(state, headers)?;
    let bytes = body_bytes(body).await?;
    let req: T = parse_body(&bytes)?;
    req.check()?;
    state.check_rate(&user).await?;
    Ok((user, req))
}

fn conn_header(headers: &HeaderMap) -> Result<String, Error> {
    headers
        .get("x-pqcall-conn")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Error::MissingField("X-Pqcall-Conn".into()))
}

/// `POST /api/auth/authenticate`
#[utoipa::path(post, path = "/api/auth/authenticate", tag = "auth", security(("bearer" = [])), responses((status = 200, body = AuthenticateResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn authenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<AuthenticateResponse>> {
    let user = user_of(&state, &headers)?;
    state.check_rate(&user).await?;
    let (sse_ticket, expires_at) = state.issue_ticket(&user).await?;
    Ok(Json(AuthenticateResponse {
        user_id: user,
        expires_at,
        sse_ticket,
    }))
}

/// `POST /api/dev/token` (development mode only).
#[utoipa::path(post, path = "/api/dev/token", tag = "dev", request_body = DevTokenRequest, responses((status = 200, body = DevTokenResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn dev_token(
    State(state): State<AppState>,
    body: Body,
) -> ApiResult<Json<DevTokenResponse>> {
    let bytes = body_bytes(body).await?;
    let req: DevTokenRequest = parse_body(&bytes)?;
    req.check()?;
    req.check()?;
    let (token, expires_at) = state.0.auth.mint(&req.user, now_ms() / 1000, 3600)?;
    Ok(Json(DevTokenResponse { token, expires_at }))
}

macro_rules! call_endpoint {
    ($name:ident, $path:literal, $req:ty, $method:ident) => {
        #[doc = concat!("`POST /api/calls/", stringify!($name), "`")]
        #[utoipa::path(post, path = $path, tag = "calls", request_body = $req, security(("bearer" = [])),
            params(("X-Pqcall-Conn" = String, Header, description = "the acting device's conn_id")),
            responses((status = 200, body = CallStateResponse), (status = "4XX", body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            headers: HeaderMap,
            body: Body,
        ) -> ApiResult<Json<CallStateResponse>> {
            let (user, req): (String, $req) = read(&state, &headers, body).await?;
            let conn = conn_header(&headers)?;
            let now = now_ms();
            let scope = Scope::users([user.as_str()]).with_call(&req.call_id);
            let res = state
                .decide(scope, |core| core.$method(now, &user, &conn, &req))
                .await?;
            Ok(Json(res))
        }
    };
}

call_endpoint!(answer, "/api/calls/answer", AnswerRequest, answer);
call_endpoint!(confirm, "/api/calls/confirm", ConfirmRequest, confirm);
call_endpoint!(ice, "/api/calls/ice", IceRequest, ice);
call_endpoint!(decline, "/api/calls/decline", CallIdReason, decline);
call_endpoint!(end, "/api/calls/end", CallIdReason, end);

/// `POST /api/calls/offer`
#[utoipa::path(post, path = "/api/calls/offer", tag = "calls", request_body = OfferRequest, security(("bearer" = [])), responses((status = 200, body = OfferResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn offer(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<OfferResponse>> {
    let (user, req): (String, OfferRequest) = read(&state, &headers, body).await?;
    let conn = conn_header(&headers)?;
    let now = now_ms();
    let scope = Scope::users([user.as_str(), req.to.as_str()]);
    let res = state
        .decide(scope, |core| core.offer(now, &user, &conn, &req))
        .await?;
    Ok(Json(res))
}

async fn conversation(state: &AppState, id: &str) -> Result<chat::Conversation, Error> {
    if !pqcall_signaling::is_server_id(id) {
        return Err(Error::UnknownConversation);
    }
    state
        .0
        .store
        .conversation(id)
        .await?
        .ok_or(Error::UnknownConversation)
}

/// `POST /api/conversations/create`
#[utoipa::path(post, path = "/api/conversations/create", tag = "chat", request_body = CreateConversationRequest, security(("bearer" = [])), responses((status = 200, body = CreateConversationResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn create_conversation(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<CreateConversationResponse>> {
    let (user, req): (String, CreateConversationRequest) = read(&state, &headers, body).await?;
    let id = state
        .decide_here(|core| Ok((core.new_id(), Vec::new())))
        .await?;
    let (conv, out) = chat::create(now_ms(), &user, id, &req)?;
    let order = state.0.chat.lock().await;
    state.0.store.create_conversation(&conv).await?;
    state.perform(out).await?;
    drop(order);
    Ok(Json(CreateConversationResponse {
        conversation_id: conv.id,
    }))
}

/// `POST /api/conversations/join`
#[utoipa::path(post, path = "/api/conversations/join", tag = "chat", request_body = ConversationIdBody, security(("bearer" = [])), responses((status = 200, body = JoinResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn join_conversation(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<JoinResponse>> {
    let (user, req): (String, ConversationIdBody) = read(&state, &headers, body).await?;
    let order = state.0.chat.lock().await;
    let conv = conversation(&state, &req.conversation_id).await?;
    let mut members = conv.members.clone();
    if let Join::Add(out) = chat::join(&conv, &user)? {
        state.0.store.add_member(&conv.id, &user).await?;
        members.push(user);
        state.perform(out).await?;
    }
    drop(order);
    Ok(Json(JoinResponse {
        conversation_id: conv.id,
        members,
    }))
}

/// `POST /api/messages/send`
#[utoipa::path(post, path = "/api/messages/send", tag = "chat", request_body = SendRequest, security(("bearer" = [])), responses((status = 200, body = SendResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn send_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<SendResponse>> {
    let (user, req): (String, SendRequest) = read(&state, &headers, body).await?;
    let order = state.0.chat.lock().await;
    let conv = conversation(&state, &req.conversation_id).await?;
    let draft = chat::send(now_ms(), &conv, &user, &req)?;
    let (message, inserted) = state.0.store.insert_message(&draft).await?;
    // docs/PROTOCOL.md §4: a retry (same client_msg_id) returns the first result; the
    // engine decides what a retry fans out (see `Engine::fan_out_message`).
    let outputs = chat::message_stored(&conv, &message);
    state
        .fan_out_message(outputs, &message.id, inserted)
        .await?;
    drop(order);
    Ok(Json(SendResponse { message }))
}

/// `POST /api/messages/load`
#[utoipa::path(post, path = "/api/messages/load", tag = "chat", request_body = LoadRequest, security(("bearer" = [])), responses((status = 200, body = LoadResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn load_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<LoadResponse>> {
    let (user, req): (String, LoadRequest) = read(&state, &headers, body).await?;
    let limit = req.validate()?;
    let conv = conversation(&state, &req.conversation_id).await?;
    conv.check_member(&user)?;
    let (messages, has_more) = state
        .0
        .store
        .load(&conv.id, req.before.as_deref(), limit)
        .await?;
    Ok(Json(LoadResponse { messages, has_more }))
}

async fn typing(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    active: bool,
) -> ApiResult<Response> {
    let (user, req): (String, ConversationIdBody) = read(&state, &headers, body).await?;
    let conv = conversation(&state, &req.conversation_id).await?;
    let now = now_ms();
    state
        .decide_here(|core| Ok(((), core.typing(now, &user, &conv, active)?)))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/typing/start`
#[utoipa::path(post, path = "/api/typing/start", tag = "chat", request_body = ConversationIdBody, security(("bearer" = [])), responses((status = 204, description = "done"), (status = "4XX", body = ErrorBody)))]
pub async fn typing_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    typing(state, headers, body, true).await
}

/// `POST /api/typing/stop`
#[utoipa::path(post, path = "/api/typing/stop", tag = "chat", request_body = ConversationIdBody, security(("bearer" = [])), responses((status = 204, description = "done"), (status = "4XX", body = ErrorBody)))]
pub async fn typing_stop(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    typing(state, headers, body, false).await
}

/// `POST /api/server/publish` (the embedding application's backend, with the server key).
#[utoipa::path(post, path = "/api/server/publish", tag = "server", request_body = PublishRequest, security(("server_key" = [])), responses((status = 200, body = PublishResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn server_publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PublishResponse>> {
    let key = state
        .0
        .config
        .server_key
        .as_deref()
        .filter(|k| !k.is_empty());
    let given = bearer(&headers)?;
    let ok = key.is_some_and(|k| {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            k.as_bytes(),
            given.as_bytes(),
        ))
    });
    if !ok {
        return Err(Error::Unauthorized("bad server key".into()).into());
    }
    let bytes = body_bytes(body).await?;
    let req: PublishRequest = parse_body(&bytes)?;
    req.check()?;
    req.check()?;
    let out = publish(&req)?;
    let n = out.len();
    state.perform(out).await?;
    Ok(Json(PublishResponse { delivered_to: n }))
}

/// The Rust API for publishing from the embedding application: an `app.*` event to
/// users, through their logs (so it resumes like any other event).
pub async fn publish_app_event(
    state: &AppState,
    users: Vec<String>,
    event: &str,
    data: serde_json::Value,
) -> Result<usize, Error> {
    let out = publish(&PublishRequest {
        users,
        event: event.to_owned(),
        data,
    })?;
    let n = out.len();
    state.perform(out).await?;
    Ok(n)
}

/// `GET /healthz`: 200 when this node and the engines it needs (Redis in cluster
/// mode) answer, 503 when one does not (a load balancer then sends traffic elsewhere).
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive and ready"), (status = 503, description = "an engine this node needs does not answer")))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    if state.ready().await {
        Json(serde_json::json!({"status": "ok"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable"})),
        )
            .into_response()
    }
}
