//! Sign-in: a ticket for the event stream, and development-mode tokens
//! (docs/PROTOCOL.md §2).

use axum::Json;
use axum::extract::State;
use pqcall_signaling::api::{AuthenticateResponse, DevTokenRequest, DevTokenResponse, ErrorBody};

use super::ApiResult;
use axum::http::HeaderMap;

use super::extract::{Body, bearer};
use crate::clock::now_ms;
use crate::state::AppState;

/// `POST /api/auth/authenticate`
#[utoipa::path(post, path = "/api/auth/authenticate", tag = "auth", security(("bearer" = [])), responses((status = 200, body = AuthenticateResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn authenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<AuthenticateResponse>> {
    let (user, token_exp) = state.0.auth.verify_claims(bearer(&headers)?)?;
    state.check_rate(&user).await?;
    // The ticket remembers when the token expires: the stream it opens ends then.
    let (sse_ticket, expires_at) = state.issue_ticket(&user, token_exp).await?;
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
    Body(req): Body<DevTokenRequest>,
) -> ApiResult<Json<DevTokenResponse>> {
    let (token, expires_at) = state.0.auth.mint(&req.user, now_ms() / 1000, 3600)?;
    Ok(Json(DevTokenResponse { token, expires_at }))
}
