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

/// The status of each error code ([`Error::http_status`]).
pub fn status(e: &Error) -> StatusCode {
    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Why the service cannot start: a configuration it refuses, a key it cannot read, or a
/// backend it cannot reach. The message names the flag or the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The flags or environment ask for something incomplete or impossible.
    #[error("{0}")]
    Config(String),
    /// A token key cannot be read or parsed.
    #[error("{0}")]
    Key(String),
    /// The chat store (an SQLite file or PostgreSQL) cannot be opened.
    #[error("{0}")]
    Store(String),
    /// Redis cannot be reached (cluster mode).
    #[error("Redis: {0}")]
    Redis(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (status(&self.0), axum::Json(ErrorBody::from(&self.0))).into_response();
        if let Error::RateLimited {
            retry_after_secs, ..
        }
        | Error::Busy {
            retry_after_secs, ..
        } = self.0
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}
