//! Extractors that check a request in docs/PROTOCOL.md §1's order: the token (401), the
//! body's size (413), its shape (400/422: parsed and validated here, once), then the
//! acting device's header (400); the handler then checks the rate (429).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use pqcall_signaling::api::parse_body;
use pqcall_signaling::{Error, Valid, Validate};
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
            .as_ref()
            .map(|k| k.expose())
            .filter(|k| !k.is_empty());
        let given = bearer(&parts.headers)?;
        // Both sides hashed first: the comparison then takes the same time whatever
        // the lengths, so it leaks neither the key's bytes nor its length.
        let digest = |s: &str| <sha2::Sha256 as sha2::Digest>::digest(s.as_bytes());
        let same = |k: &str| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                &digest(k)[..],
                &digest(given)[..],
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

/// Why a body could not be read: over the limit (413), or not sent in time (408, from
/// the body timeout layer of [`super::api_router`]).
fn body_error(e: axum::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if s.is::<tower_http::timeout::TimeoutError>() {
            return Error::RequestTimeout;
        }
        source = s.source();
    }
    Error::PayloadTooLarge { limit: BODY_LIMIT }
}

/// A JSON body of at most [`BODY_LIMIT`] bytes (413), parsed with the failing field named
/// (400) and checked once (400/422): a [`Valid`] the core's decisions take as it is.
#[derive(Debug)]
pub struct Body<T>(pub Valid<T>);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map_err(body_error)?;
        let body: T = parse_body(&bytes)?;
        Ok(Body(Valid::new(body)?))
    }
}
