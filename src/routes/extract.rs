//! Extractors that check a request in docs/PROTOCOL.md §1's order: the token (401), the
//! body's size (413), its shape (400/422: parsed and validated here, once), then the
//! acting device's header (400); the handler then checks the rate (429).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use pqcall_signaling::Error;
use pqcall_signaling::api::{Validate, parse_body};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// docs/PROTOCOL.md §1: the body limit.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The bearer token of a request (401 without one).
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, Error> {
    let value = headers.get(header::AUTHORIZATION);
    let value = value.and_then(|v| v.to_str().ok());
    let token = value.and_then(|v| v.strip_prefix("Bearer "));
    token.ok_or_else(|| Error::Unauthorized("missing bearer token".into()))
}

/// The user of the request's bearer token (401 otherwise).
pub(crate) fn user_of(state: &AppState, headers: &HeaderMap) -> Result<String, Error> {
    state.0.auth.verify(bearer(headers)?)
}

/// The user whose bearer token signs the request (401 otherwise).
#[derive(Debug)]
pub struct AuthUser(pub String);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(AuthUser(user_of(state, &parts.headers)?))
    }
}

/// The embedding application's backend, by the server key (401 otherwise).
#[derive(Debug)]
pub struct ServerKey;

impl FromRequestParts<AppState> for ServerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = state
            .0
            .config
            .server_key
            .as_deref()
            .filter(|k| !k.is_empty());
        let given = bearer(&parts.headers)?;
        let same = |k: &str| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                k.as_bytes(),
                given.as_bytes(),
            ))
        };
        if key.is_some_and(same) {
            Ok(ServerKey)
        } else {
            Err(Error::Unauthorized("bad server key".into()).into())
        }
    }
}

/// The acting device's `X-Pqcall-Conn` header. Read with the request's other parts but
/// required only by [`ConnId::required`], after the body, so a missing header is a shape
/// error in §1's order.
#[derive(Debug)]
pub struct ConnId(Option<String>);

impl ConnId {
    /// The connection id, or 400 `missing_field`.
    pub fn required(self) -> Result<String, Error> {
        self.0
            .ok_or_else(|| Error::MissingField("X-Pqcall-Conn".into()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ConnId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get("x-pqcall-conn")
            .and_then(|v| v.to_str().ok());
        Ok(ConnId(value.map(str::to_owned)))
    }
}

/// A JSON body of at most [`BODY_LIMIT`] bytes (413), parsed with the failing field named
/// (400) and validated (400/422).
#[derive(Debug)]
pub struct Valid<T>(pub T);

impl<T, S> FromRequest<S> for Valid<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let too_large = |_| Error::PayloadTooLarge { limit: BODY_LIMIT };
        let bytes = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map_err(too_large)?;
        let body: T = parse_body(&bytes)?;
        body.check()?;
        Ok(Valid(body))
    }
}
