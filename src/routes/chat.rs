//! Conversations, messages and typing (docs/PROTOCOL.md §4). The chat store holds
//! conversations and messages; the rules of who may do what are `pqcall_signaling::chat`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pqcall_signaling::api::{
    ConversationIdBody, CreateConversationRequest, CreateConversationResponse, ErrorBody,
    JoinResponse, LoadRequest, LoadResponse, SendRequest, SendResponse,
};
use pqcall_signaling::chat::{self, Join};
use pqcall_signaling::{Error, is_server_id};

use super::ApiResult;
use super::extract::{AuthUser, Body};
use crate::clock::now_ms;
use crate::state::AppState;

/// A conversation by id: 404 `unknown_conversation` when there is none.
pub(super) async fn conversation(state: &AppState, id: &str) -> Result<chat::Conversation, Error> {
    if !is_server_id(id) {
        return Err(Error::UnknownConversation);
    }
    let found = state.0.store.conversation(id).await?;
    found.ok_or(Error::UnknownConversation)
}

/// `POST /api/conversations/create`
#[utoipa::path(post, path = "/api/conversations/create", tag = "chat", request_body = CreateConversationRequest, security(("bearer" = [])), responses((status = 200, body = CreateConversationResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn create_conversation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Body(req): Body<CreateConversationRequest>,
) -> ApiResult<Json<CreateConversationResponse>> {
    state.admit(&user, 1).await?;
    let cap = state.0.config.max_conversations_per_user;
    if state.0.store.created_by(&user).await? >= cap {
        return Err(Error::RateLimited {
            what: "conversations created per user",
            retry_after_secs: 3600,
        }
        .into());
    }
    let id = state
        .decide_here(|core| Ok((core.new_id(), Vec::new())))
        .await?;
    let (conv, out) = chat::create(now_ms(), &user, id, &req)?;
    // Its fan-out is charged: every member gets the whole member list.
    let created_bytes = conv.members.iter().map(|m| m.len() + 8).sum::<usize>() + 512;
    charge_fan_out(&state, &user, conv.members.len() * created_bytes).await?;
    let order = state.0.chat.lock(&conv.id).await;
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
    AuthUser(user): AuthUser,
    Body(req): Body<ConversationIdBody>,
) -> ApiResult<Json<JoinResponse>> {
    state.admit(&user, 1).await?;
    let order = state.0.chat.lock(&req.conversation_id).await;
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

/// The bytes of fan-out (members × event size) one request's cost pays for.
const FAN_OUT_UNIT: usize = 64 * 1024;

/// Charges `user` one request more per [`FAN_OUT_UNIT`] of fan-out: one account cannot
/// multiply its traffic by the size of a conversation (429 when it would).
pub(super) async fn charge_fan_out(
    state: &AppState,
    user: &str,
    bytes: usize,
) -> Result<(), Error> {
    let extra = u32::try_from(bytes / FAN_OUT_UNIT).unwrap_or(u32::MAX);
    if extra > 0 {
        state.admit(user, extra).await?;
    }
    Ok(())
}

/// `POST /api/messages/send`
#[utoipa::path(post, path = "/api/messages/send", tag = "chat", request_body = SendRequest, security(("bearer" = [])), responses((status = 200, body = SendResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn send_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Body(req): Body<SendRequest>,
) -> ApiResult<Json<SendResponse>> {
    state.admit(&user, 1).await?;
    let order = state.0.chat.lock(&req.conversation_id).await;
    let conv = conversation(&state, &req.conversation_id).await?;
    let draft = chat::send(now_ms(), &conv, &user, &req)?;
    charge_fan_out(&state, &user, conv.members.len() * (req.body.len() + 256)).await?;
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
    AuthUser(user): AuthUser,
    Body(req): Body<LoadRequest>,
) -> ApiResult<Json<LoadResponse>> {
    state.check_rate(&user).await?;
    let conv = conversation(&state, &req.conversation_id).await?;
    conv.check_member(&user)?;
    let store = &state.0.store;
    let (messages, has_more) = store
        .load(&conv.id, req.before.as_deref(), req.limit())
        .await?;
    Ok(Json(LoadResponse { messages, has_more }))
}

/// Typing starts or stops: an ephemeral event to the other members, throttled.
async fn typing(
    state: AppState,
    user: String,
    req: ConversationIdBody,
    active: bool,
) -> ApiResult<StatusCode> {
    // Ephemeral: never logged, so only the rate applies.
    state.check_rate(&user).await?;
    let conv = conversation(&state, &req.conversation_id).await?;
    let now = now_ms();
    state
        .decide_here(|core| Ok(((), core.typing(now, &user, &conv, active)?)))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/typing/start`
#[utoipa::path(post, path = "/api/typing/start", tag = "chat", request_body = ConversationIdBody, security(("bearer" = [])), responses((status = 204, description = "done"), (status = "4XX", body = ErrorBody)))]
pub async fn typing_start(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Body(req): Body<ConversationIdBody>,
) -> ApiResult<StatusCode> {
    typing(state, user, req.into_inner(), true).await
}

/// `POST /api/typing/stop`
#[utoipa::path(post, path = "/api/typing/stop", tag = "chat", request_body = ConversationIdBody, security(("bearer" = [])), responses((status = 204, description = "done"), (status = "4XX", body = ErrorBody)))]
pub async fn typing_stop(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Body(req): Body<ConversationIdBody>,
) -> ApiResult<StatusCode> {
    typing(state, user, req.into_inner(), false).await
}
