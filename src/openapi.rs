//! The OpenAPI document, generated from the handlers and the protocol types (utoipa).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{events, routes};

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
        routes::authenticate, routes::dev_token, events::events,
        routes::create_conversation, routes::join_conversation, routes::send_message, routes::load_messages,
        routes::typing_start, routes::typing_stop,
        routes::offer, routes::answer, routes::confirm, routes::ice, routes::decline, routes::end,
        routes::server_publish, routes::healthz,
    ),
    modifiers(&Security)
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
