//! Publishing from the embedding application's backend: `app.*` events to users,
//! through their logs, so they resume like any other event (docs/PROTOCOL.md §4).

use axum::Json;
use axum::extract::State;
use pqcall_signaling::api::{ErrorBody, PublishRequest, PublishResponse};
use pqcall_signaling::{Error, Valid, publish};

use super::ApiResult;
use super::extract::{Body, ServerKey};
use crate::state::AppState;

/// `POST /api/server/publish` (the embedding application's backend, with the server key).
#[utoipa::path(post, path = "/api/server/publish", tag = "server", request_body = PublishRequest, security(("server_key" = [])), responses((status = 200, body = PublishResponse), (status = "4XX", body = ErrorBody, description = "docs/PROTOCOL.md §1 error codes")))]
pub async fn server_publish(
    State(state): State<AppState>,
    _: ServerKey,
    Body(req): Body<PublishRequest>,
) -> ApiResult<Json<PublishResponse>> {
    let out = publish(&req)?;
    let delivered_to = out.len();
    state.perform(out).await?;
    Ok(Json(PublishResponse { delivered_to }))
}

/// The Rust API for publishing from the embedding application: an `app.*` event to
/// users, through their logs (so it resumes like any other event).
pub async fn publish_app_event(
    state: &AppState,
    users: Vec<String>,
    event: &str,
    data: serde_json::Value,
) -> Result<usize, Error> {
    let event = event.to_owned();
    let out = publish(&Valid::new(PublishRequest { users, event, data })?)?;
    let n = out.len();
    state.perform(out).await?;
    Ok(n)
}
