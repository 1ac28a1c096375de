//! The OpenAPI document, generated from the handlers and the protocol types (utoipa).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{auth, calls, chat, events, ops, server};

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        let bearer = || {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            )
        };
        c.add_security_scheme("bearer", bearer());
        c.add_security_scheme(
            "server_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The service's API.
#[derive(OpenApi)]
#[openapi(
    info(title = "pqcall", description = "WebRTC call signaling over HTTP POST + Server-Sent Events, with an ML-KEM-768 call handshake."),
    paths(
        auth::authenticate, auth::dev_token, events::events,
        chat::create_conversation, chat::join_conversation, chat::send_message, chat::load_messages,
        chat::typing_start, chat::typing_stop,
        calls::offer, calls::answer, calls::confirm, calls::ice, calls::decline, calls::end,
        server::server_publish, ops::healthz,
    ),
    modifiers(&Security)
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
