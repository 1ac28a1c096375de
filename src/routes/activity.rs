//! Conversations list, read markers, presence and call history (docs/PROTOCOL.md §9).
//! The chat store answers; the rules (who sees whose presence, what a read marker fans
//! out) are `pqcall_signaling::activity`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pqcall_signaling::activity::{
    self, CallHistoryResponse, ConversationsResponse, PageRequest, PresenceRequest,
    PresenceResponse, ReadRequest,
};
use pqcall_signaling::api::ErrorBody;

use super::ApiResult;
use super::chat::{charge_fan_out, conversation};
use super::extract::{AuthUser, Body};
use crate::state::AppState;

/// What a read of `items` entries costs of the user's rate: one request per 25, so a
/// page of 100 (a few store queries each) counts as four.
fn cost(items: usize) -> u32 {
    u32::try_from(items.div_ceil(25)).unwrap_or(u32::MAX).max(1)
}

/// `POST /api/conversations/list`
#[utoipa::path(post, path = "/api/conversations/list", tag = "chat", request_body = PageRequest, security(("bearer" = [])), responses((status = 200, body = ConversationsResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn list_conversations(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Body(req): Body<PageRequest>,
) -> ApiResult<Json<ConversationsResponse>> {
    state.check_rate_n(&user, cost(req.limit())).await?;
    let store = &state.0.store;
    let (conversations, has_more) = store
        .list(&user, req.before.as_deref(), req.limit())
        .await?;
    Ok(Json(ConversationsResponse {
        conversations,
        has_more,
    }))
}

/// `POST /api/messages/read`
#[utoipa::path(post, path = "/api/messages/read", tag = "chat", request_body = ReadRequest, security(("bearer" = [])), responses((status = 204, description = "the marker is at this message or a newer one"), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn mark_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Body(req): Body<ReadRequest>,
) -> ApiResult<StatusCode> {
    state.admit(&user, 1).await?;
    let order = state.0.chat.lock(&req.conversation_id).await;
    let conv = conversation(&state, &req.conversation_id).await?;
    activity::read(&conv, &user)?;
    // Charged before the marker moves, so a refusal leaves nothing half done.
    charge_fan_out(&state, &user, conv.members.len() * 256).await?;
    let store = &state.0.store;
    if store.mark_read(&conv.id, &user, &req.message_id).await? {
        state
            .perform(activity::read_moved(&conv, &user, &req.message_id))
            .await?;
    }
    drop(order);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/presence/query`
#[utoipa::path(post, path = "/api/presence/query", tag = "chat", request_body = PresenceRequest, security(("bearer" = [])), responses((status = 200, body = PresenceResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn presence(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Body(req): Body<PresenceRequest>,
) -> ApiResult<Json<PresenceResponse>> {
    state.check_rate_n(&user, cost(req.users.len())).await?;
    let shared = state.0.store.shares_with(&user, &req.users).await?;
    let counts = state.0.engine.connections(&req.users).await?;
    let of = |u: &str| {
        let at = req.users.iter().position(|x| x == u);
        at.and_then(|i| counts.get(i).copied()).unwrap_or(0)
    };
    Ok(Json(activity::visible_presence(
        &user, &req.users, &shared, of,
    )))
}

/// `POST /api/calls/history`
#[utoipa::path(post, path = "/api/calls/history", tag = "calls", request_body = PageRequest, security(("bearer" = [])), responses((status = 200, body = CallHistoryResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn call_history(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Body(req): Body<PageRequest>,
) -> ApiResult<Json<CallHistoryResponse>> {
    state.check_rate_n(&user, cost(req.limit())).await?;
    let store = &state.0.store;
    let (calls, has_more) = store
        .call_history(&user, req.before.as_deref(), req.limit())
        .await?;
    Ok(Json(CallHistoryResponse { calls, has_more }))
}
