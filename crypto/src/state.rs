//! A runtime wrapper over the typestates, for code that keeps one handshake per call
//! and feeds it messages as they arrive (the native client). A message that does not
//! fit the current step gives [`Error::OutOfOrder`]; any failure leaves it `Failed`.

use crate::callee::Callee;
use crate::caller::{Caller, CallerAwaitingTag};
use crate::error::Error;
use crate::keys::{CallContext, CallKeys};
use crate::wire::{AnswerKem, CalleeConfirm, CallerConfirm};

/// Where one side's handshake stands.
#[derive(Debug, Default)]
pub enum Handshake {
    /// Caller: offer sent, waiting for the answer.
    CallerOffered(Box<Caller>),
    /// Caller: confirm sent, waiting for the callee's tag.
    CallerConfirmed(CallerAwaitingTag),
    /// Callee: answer sent, waiting for the caller's confirm.
    CalleeAnswered(Box<Callee>),
    /// Both tags verified (or sent, for the callee): the call keys.
    Done(CallKeys),
    /// A step failed or ran out of order; the call must end.
    #[default]
    Failed,
}

impl Handshake {
    /// A caller that has just sent its offer.
    pub fn caller(caller: Caller) -> Self {
        Handshake::CallerOffered(Box::new(caller))
    }

    /// A callee that has just sent its answer.
    pub fn callee(callee: Callee) -> Self {
        Handshake::CalleeAnswered(Box::new(callee))
    }

    /// Caller, step 3: the answer arrived.
    pub fn on_answer(
        &mut self,
        answer: &AnswerKem,
        ctx: &CallContext,
    ) -> Result<CallerConfirm, Error> {
        match std::mem::take(self) {
            Handshake::CallerOffered(caller) => {
                let (next, confirm) = caller.finish(answer, ctx);
                *self = Handshake::CallerConfirmed(next);
                Ok(confirm)
            }
            _ => Err(Error::OutOfOrder),
        }
    }

    /// Callee, step 4: the caller's confirm arrived.
    pub fn on_caller_confirm(
        &mut self,
        confirm: &CallerConfirm,
        ctx: &CallContext,
    ) -> Result<CalleeConfirm, Error> {
        match std::mem::take(self) {
            Handshake::CalleeAnswered(callee) => {
                let (keys, reply) = callee.confirm(confirm, ctx)?;
                *self = Handshake::Done(keys);
                Ok(reply)
            }
            _ => Err(Error::OutOfOrder),
        }
    }

    /// Caller, final check: the callee's confirm arrived.
    pub fn on_callee_confirm(&mut self, confirm: &CalleeConfirm) -> Result<&CallKeys, Error> {
        match std::mem::take(self) {
            Handshake::CallerConfirmed(waiting) => {
                *self = Handshake::Done(waiting.verify(confirm)?);
                self.keys().ok_or(Error::OutOfOrder)
            }
            _ => Err(Error::OutOfOrder),
        }
    }

    /// The call keys, once done.
    pub fn keys(&self) -> Option<&CallKeys> {
        match self {
            Handshake::Done(keys) => Some(keys),
            _ => None,
        }
    }
}
