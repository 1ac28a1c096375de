//! Checked request bodies: a body passes its shape checks (docs/PROTOCOL.md §1 step 3)
//! once, when it becomes a [`Valid`], and every decision of the core takes a `Valid`,
//! so nothing is checked twice and nothing unchecked reaches a decision.

use std::ops::Deref;

use crate::activity::{PageRequest, PresenceRequest, ReadRequest};
use crate::api::{
    AnswerRequest, CallIdReason, ConfirmRequest, ConversationIdBody, CreateConversationRequest,
    DevTokenRequest, IceRequest, LoadRequest, OfferRequest, PublishRequest, SendRequest,
    UpdateRequest,
};
use crate::error::Error;

/// A request body whose shape checks passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid<T>(T);

impl<T: Validate> Valid<T> {
    /// Checks `req`: 400 / 422 when a field is unacceptable.
    pub fn new(req: T) -> Result<Self, Error> {
        req.check()?;
        Ok(Valid(req))
    }
}

impl<T> Valid<T> {
    /// The checked body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Valid<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Shape checks of a request body (docs/PROTOCOL.md §1 step 3), so a shell can run them
/// before its rate limit (step 4). [`Valid::new`] runs them.
pub trait Validate {
    /// 400 / 422 when the body's fields are unacceptable.
    fn check(&self) -> Result<(), Error>;
}

macro_rules! validate_with {
    ($($t:ty),*) => {$(
        impl Validate for $t {
            fn check(&self) -> Result<(), Error> {
                self.validate().map(drop)
            }
        }
    )*};
}

validate_with!(
    OfferRequest,
    AnswerRequest,
    ConfirmRequest,
    IceRequest,
    UpdateRequest,
    CallIdReason,
    CreateConversationRequest,
    SendRequest,
    LoadRequest,
    PublishRequest,
    PageRequest,
    ReadRequest,
    PresenceRequest
);

impl Validate for ConversationIdBody {
    fn check(&self) -> Result<(), Error> {
        Ok(())
    }
}

impl Validate for DevTokenRequest {
    fn check(&self) -> Result<(), Error> {
        crate::ids::check_user_id("user", &self.user)
    }
}
