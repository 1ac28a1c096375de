//! The one place where errors become HTTP responses (docs/PROTOCOL.md §1).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pqcall_signaling::Error;
use pqcall_signaling::api::ErrorBody;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// The status of each error code.
pub fn status(e: &Error) -> StatusCode {
    match e {
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::InvalidJson(_) | Error::MissingField(_) | Error::InvalidField { .. } => {
            StatusCode::BAD_REQUEST
        }
        Error::BadLength { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::UnknownCall | Error::UnknownConversation => StatusCode::NOT_FOUND,
        Error::Forbidden(_) | Error::NotAParticipant => StatusCode::FORBIDDEN,
        Error::InvalidState(_) | Error::Glare { .. } => StatusCode::CONFLICT,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (status(&self.0), axum::Json(ErrorBody::from(&self.0))).into_response();
        if let Error::RateLimited {
            retry_after_secs, ..
        } = self.0
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}
