//! The one error type of the core. Each variant is one error code of docs/PROTOCOL.md §1;
//! the service maps them to HTTP statuses in one place.

/// A refused request, or a failure of a log or store behind the core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: no, bad, expired or wrong-alg token; bad ticket.
    #[error("{0}")]
    Unauthorized(String),
    /// 408: the body did not arrive in time.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// 413: body over the limit.
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 400: the body is not JSON (or not an object).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// 400: a required field is absent.
    #[error("missing field `{0}`")]
    MissingField(String),
    /// 400: a field has the wrong type or an unacceptable value.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field name.
        field: String,
        /// Why.
        reason: String,
    },
    /// 422: a base64 `kem` field decodes to the wrong number of bytes.
    #[error("`{field}` must be {expected} bytes, got {actual}")]
    BadLength {
        /// The field name.
        field: &'static str,
        /// Required length.
        expected: usize,
        /// Received length.
        actual: usize,
    },
    /// 429: too many requests; retry after this many seconds.
    #[error("rate limited: {what}")]
    RateLimited {
        /// What limit was hit.
        what: &'static str,
        /// Seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// 404: no such call (or an id of a wrong form).
    #[error("unknown call")]
    UnknownCall,
    /// 404: no such conversation (or an id of a wrong form).
    #[error("unknown conversation")]
    UnknownConversation,
    /// 403: acting for another user's connection, or not a member.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 403: not one of the call's two bound connections.
    #[error("not a participant of this call")]
    NotAParticipant,
    /// 409: the call is not in a state that allows this.
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// 409: the callee is already calling the caller; answer that call instead.
    #[error("the other user is already calling you; answer call {call_id}")]
    Glare {
        /// The existing call.
        call_id: String,
    },
    /// 503: the server's memory budget for events is spent; retry after this many
    /// seconds (the replay window frees room as it moves).
    #[error("server busy: {what}")]
    Busy {
        /// What budget is spent.
        what: &'static str,
        /// Seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// 503: a log or store behind the core is unavailable.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    /// The snake_case code of docs/PROTOCOL.md §1.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized(_) => "unauthorized",
            Error::RequestTimeout => "request_timeout",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::InvalidJson(_) => "invalid_json",
            Error::MissingField(_) => "missing_field",
            Error::InvalidField { .. } => "invalid_field",
            Error::BadLength { .. } => "bad_length",
            Error::RateLimited { .. } => "rate_limited",
            Error::UnknownCall => "unknown_call",
            Error::UnknownConversation => "unknown_conversation",
            Error::Forbidden(_) => "forbidden",
            Error::NotAParticipant => "not_a_participant",
            Error::InvalidState(_) => "invalid_state",
            Error::Glare { .. } => "glare",
            Error::Busy { .. } => "server_busy",
            Error::Unavailable(_) => "unavailable",
        }
    }

    /// The HTTP status of the code (docs/PROTOCOL.md §1): every code has exactly one.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Unauthorized(_) => 401,
            Error::RequestTimeout => 408,
            Error::PayloadTooLarge { .. } => 413,
            Error::InvalidJson(_) | Error::MissingField(_) | Error::InvalidField { .. } => 400,
            Error::BadLength { .. } => 422,
            Error::RateLimited { .. } => 429,
            Error::UnknownCall | Error::UnknownConversation => 404,
            Error::Forbidden(_) | Error::NotAParticipant => 403,
            Error::InvalidState(_) | Error::Glare { .. } => 409,
            Error::Busy { .. } | Error::Unavailable(_) => 503,
        }
    }

    /// Shorthand for [`Error::InvalidField`].
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<pqcall_crypto::Error> for Error {
    fn from(e: pqcall_crypto::Error) -> Self {
        use pqcall_crypto::Error as C;
        match e {
            C::BadLength {
                field,
                expected,
                actual,
            } => Error::BadLength {
                field: field.name(),
                expected,
                actual,
            },
            C::BadBase64(field) => Error::invalid(field.name(), "not standard padded base64"),
            other => Error::invalid("kem", other.to_string()),
        }
    }
}
