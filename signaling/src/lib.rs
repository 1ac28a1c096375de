//! The pqcall signaling core: every rule of the protocol (docs/PROTOCOL.md §3–§5) in one
//! deterministic crate with no I/O and no clock. The HTTP service and the native client
//! are thin shells: they pass requests and the time in, and perform the [`Output`]s that
//! come back (deliver an event, schedule a timer).
//!
//! | file | holds |
//! |---|---|
//! | `api.rs` | request and response bodies, their checks, error codes |
//! | `body.rs` | a body's bytes into its request type, the failing field named |
//! | `valid.rs` | [`Valid`]: a body checked once, what decisions take |
//! | `event.rs` | every stream event, typed |
//! | `stream.rs` | the start of an event stream: hello, replay or reset, the live filter |
//! | `calls.rs` | a call and its states |
//! | `core.rs` | connections, the call state machine, typing, publish |
//! | `chat.rs` | conversations, membership, sends |
//! | `log.rs` | the per-user event log with resume, and its conformance suite |
//! | `output.rs` | effects as values |
//! | `records.rs` | the state as records, for a store shared by many nodes |
//!
//! ```
//! use pqcall_signaling::{Core, CoreConfig, Output, SequentialIds, Valid, api::OfferRequest};
//!
//! let mut core = Core::with_ids(CoreConfig::default(), Box::new(SequentialIds::default()));
//! let t = 1_700_000_000_000; // Unix ms, passed in: the core has no clock
//! let (alice, _) = core.connect(t, "alice", None, true);
//! let (_bob, _) = core.connect(t, "bob", None, true);
//! let (_caller, offer) = pqcall_crypto::Caller::start().unwrap();
//! let req = Valid::new(OfferRequest {
//!     to: "bob".into(),
//!     sdp: "v=0\r\n".into(),
//!     kem: pqcall_signaling::api::OfferKemBody {
//!         suite: "ML-KEM-768".into(),
//!         ek: offer.ek_b64(),
//!         commit: offer.commit_b64(),
//!     },
//! })
//! .unwrap();
//! let (res, outputs) = core.offer(t, "alice", &alice.conn_id, &req).unwrap();
//! assert_eq!(res.devices, 1);
//! // One event for bob's devices, one ring-timeout timer.
//! assert!(matches!(&outputs[0], Output::Deliver { user, .. } if user == "bob"));
//! assert!(matches!(&outputs[1], Output::Timer { at, .. } if *at == t + 45_000));
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub use compact_str::CompactString;

pub mod activity;
pub mod api;
mod body;
pub mod calls;
pub mod chat;
mod core;
mod error;
pub mod event;
mod ice_json;
mod ids;
pub mod log;
mod output;
pub mod records;
pub mod stream;
mod valid;
pub mod wire;

pub use crate::core::{
    Connected, Core, CoreConfig, UPDATES_PER_MINUTE, check_subject, publish, typing_to_others,
};
pub use calls::{Call, CallState, Role};
pub use error::Error;
pub use event::Event;
pub use ids::{
    IdSource, Millis, RandomIds, SequentialIds, check_user_id, is_server_id, message_id,
    parse_message_id,
};
pub use log::{Audience, EventId, LogConfig, LoggedEvent, MemoryLog, Replay, ResetReason};
pub use output::{Output, Timer};
pub use records::{Records, Scope, UserRecord};
pub use valid::{Valid, Validate};
