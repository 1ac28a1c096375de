//! The call endpoints (docs/PROTOCOL.md §4-§5): each acts for one device of the user,
//! named by `X-Pqcall-Conn`, on the records of the user and the call.

use axum::Json;
use axum::extract::State;
use pqcall_signaling::api::{
    AnswerRequest, CallIdReason, CallStateResponse, ConfirmRequest, ErrorBody, IceRequest,
    IceServer, IceServersResponse, OfferRequest, OfferResponse, UpdateRequest,
};
use pqcall_signaling::{Core, Error, Millis, Output, Scope};

use super::ApiResult;
use super::extract::{AuthUser, Body, ConnId};
use crate::clock::now_ms;
use crate::state::AppState;

/// `POST /api/calls/offer`
#[utoipa::path(post, path = "/api/calls/offer", tag = "calls", request_body = OfferRequest, security(("bearer" = [])), params(("X-Pqcall-Conn" = String, Header, description = "the acting device's conn_id")), responses((status = 200, body = OfferResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn offer(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    conn: ConnId,
    Body(req): Body<OfferRequest>,
) -> ApiResult<Json<OfferResponse>> {
    let conn = conn.required()?;
    let now = now_ms();
    let scope = Scope::of_offer(&user, &req);
    let res = state
        .decide_for(&user, true, scope, |core| {
            core.offer(now, &user, &conn, &req)
        })
        .await?;
    Ok(Json(res))
}

/// A step of an existing call by one device of `user`: the rate, then the core's
/// decision on the records of the user and the call (in a cluster, the rate and the
/// load are one round trip, the commit another; the commit alone when the node's
/// copies of the records were fresh).
async fn step<F>(
    state: &AppState,
    user: &str,
    conn: ConnId,
    call_id: &str,
    op: F,
) -> ApiResult<Json<CallStateResponse>>
where
    F: Fn(&mut Core, Millis, &str, &str) -> Result<(CallStateResponse, Vec<Output>), Error>
        + Send
        + Sync,
{
    let conn = conn.required()?;
    // Steps of a call that exists are never refused for the event budget (only new
    // calls and messages are): a full log must not keep anyone from hanging up.
    let now = now_ms();
    let scope = Scope::of_call_step(user, call_id);
    let res = state
        .decide_for(user, false, scope, |core| op(core, now, user, &conn))
        .await?;
    Ok(Json(res))
}

/// `POST /api/calls/answer`
#[utoipa::path(post, path = "/api/calls/answer", tag = "calls", request_body = AnswerRequest, security(("bearer" = [])), params(("X-Pqcall-Conn" = String, Header, description = "the acting device's conn_id")), responses((status = 200, body = CallStateResponse), (status = "4XX", body = ErrorBody)))]
pub async fn answer(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    conn: ConnId,
    Body(req): Body<AnswerRequest>,
) -> ApiResult<Json<CallStateResponse>> {
    step(&state, &user, conn, &req.call_id, |core, now, u, c| {
        core.answer(now, u, c, &req)
    })
    .await
}

/// `POST /api/calls/confirm`
#[utoipa::path(post, path = "/api/calls/confirm", tag = "calls", request_body = ConfirmRequest, security(("bearer" = [])), params(("X-Pqcall-Conn" = String, Header, description = "the acting device's conn_id")), responses((status = 200, body = CallStateResponse), (status = "4XX", body = ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    conn: ConnId,
    Body(req): Body<ConfirmRequest>,
) -> ApiResult<Json<CallStateResponse>> {
    step(&state, &user, conn, &req.call_id, |core, now, u, c| {
        core.confirm(now, u, c, &req)
    })
    .await
}

/// `POST /api/calls/update`: a new offer or answer in an active call (ICE restart).
#[utoipa::path(post, path = "/api/calls/update", tag = "calls", request_body = UpdateRequest, security(("bearer" = [])), params(("X-Pqcall-Conn" = String, Header, description = "the acting device's conn_id")), responses((status = 200, body = CallStateResponse), (status = "4XX", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    conn: ConnId,
    Body(req): Body<UpdateRequest>,
) -> ApiResult<Json<CallStateResponse>> {
    step(&state, &user, conn, &req.call_id, |core, now, u, c| {
        core.update(now, u, c, &req)
    })
    .await
}

/// `POST /api/calls/ice`
#[utoipa::path(post, path = "/api/calls/ice", tag = "calls", request_body = IceRequest, security(("bearer" = [])), params(("X-Pqcall-Conn" = String, Header, description = "the acting device's conn_id")), responses((status = 200, body = CallStateResponse), (status = "4XX", body = ErrorBody)))]
pub async fn ice(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    conn: ConnId,
    Body(req): Body<IceRequest>,
) -> ApiResult<Json<CallStateResponse>> {
    step(&state, &user, conn, &req.call_id, |core, now, u, c| {
        core.ice(now, u, c, &req)
    })
    .await
}

/// `POST /api/calls/decline`
#[utoipa::path(post, path = "/api/calls/decline", tag = "calls", request_body = CallIdReason, security(("bearer" = [])), params(("X-Pqcall-Conn" = String, Header, description = "the acting device's conn_id")), responses((status = 200, body = CallStateResponse), (status = "4XX", body = ErrorBody)))]
pub async fn decline(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    conn: ConnId,
    Body(req): Body<CallIdReason>,
) -> ApiResult<Json<CallStateResponse>> {
    step(&state, &user, conn, &req.call_id, |core, now, u, c| {
        core.decline(now, u, c, &req)
    })
    .await
}

/// `POST /api/calls/end`
#[utoipa::path(post, path = "/api/calls/end", tag = "calls", request_body = CallIdReason, security(("bearer" = [])), params(("X-Pqcall-Conn" = String, Header, description = "the acting device's conn_id")), responses((status = 200, body = CallStateResponse), (status = "4XX", body = ErrorBody)))]
pub async fn end(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    conn: ConnId,
    Body(req): Body<CallIdReason>,
) -> ApiResult<Json<CallStateResponse>> {
    step(&state, &user, conn, &req.call_id, |core, now, u, c| {
        core.end(now, u, c, &req)
    })
    .await
}

/// `GET /api/ice-servers`: the STUN and TURN servers to give `RTCPeerConnection`, with
/// TURN credentials of the TURN REST scheme (docs/PROTOCOL.md §8): `username` is
/// `<expires_at>:<user>`, `credential` base64(HMAC-SHA1(secret, username)).
#[utoipa::path(get, path = "/api/ice-servers", tag = "calls", security(("bearer" = [])), responses((status = 200, body = IceServersResponse), (status = "4XX", body = ErrorBody)))]
pub async fn ice_servers(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<IceServersResponse>> {
    state.check_rate(&user).await?;
    let config = &state.0.config;
    let expires_at = now_ms() / 1000 + config.turn_ttl_secs;
    let mut ice_servers = Vec::new();
    if !config.stun_urls.is_empty() {
        ice_servers.push(IceServer {
            urls: config.stun_urls.clone(),
            username: None,
            credential: None,
        });
    }
    if let Some(secret) = state
        .0
        .turn_secret
        .as_ref()
        .filter(|_| !config.turn_urls.is_empty())
    {
        use base64::Engine as _;
        use hmac::Mac as _;
        let username = format!("{expires_at}:{user}");
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.expose().as_bytes())
            .map_err(|_| Error::Unavailable("the TURN secret cannot key HMAC-SHA1".into()))?;
        mac.update(username.as_bytes());
        let tag = mac.finalize().into_bytes();
        ice_servers.push(IceServer {
            urls: config.turn_urls.clone(),
            username: Some(username),
            credential: Some(base64::engine::general_purpose::STANDARD.encode(tag)),
        });
    }
    Ok(Json(IceServersResponse {
        ice_servers,
        expires_at,
    }))
}
