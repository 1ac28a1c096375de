//! A call and its states (docs/PROTOCOL.md §5).
//!
//! ```text
//! ringing --answer (callee)--> connecting --confirm x2--> active --end--> ended
//! ringing --decline (callee)--> declined
//! ringing --end (caller)-----> canceled        ringing --ring timeout--> missed
//! connecting/active --end (either)--> ended
//! ```

use serde::{Deserialize, Serialize};

use crate::event::{CallIce, CallOffer};
use crate::ids::Millis;
pub use crate::wire::CallState;

/// Which side of a call a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The caller's offering connection.
    Caller,
    /// The callee's answering connection.
    Callee,
}

/// One call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Server-generated, random 128-bit.
    pub id: String,
    /// Who called.
    pub caller: String,
    /// The connection that offered.
    pub caller_conn: String,
    /// Who was called.
    pub callee: String,
    /// The connection that answered, once one has.
    pub callee_conn: Option<String>,
    /// The state.
    pub state: CallState,
    /// When the ring timeout fires (Unix ms).
    pub ring_deadline: Millis,
    /// When it was offered (Unix ms).
    #[serde(default)]
    pub started_at: Millis,
    /// When it was answered (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<Millis>,
    /// The offer (SDP and the caller's key), for devices that connect while it rings;
    /// dropped once it is answered or over, so a call's record stays small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) offer: Option<CallOffer>,
    /// The caller's ICE sent while ringing, in order, for the answering connection.
    pub(crate) pending_ice: Vec<CallIce>,
    pub(crate) pending_candidates: usize,
    pub(crate) caller_confirmed: bool,
    pub(crate) callee_confirmed: bool,
    /// When the last `calls/update`s were relayed (Unix ms), for their rate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) update_times: Vec<Millis>,
    /// Whose updated offer awaits its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending_update: Option<Role>,
}

impl Call {
    /// The role of `(user, conn)` in this call, if it is one of the bound connections.
    pub fn role_of(&self, user: &str, conn: &str) -> Option<Role> {
        if user == self.caller && conn == self.caller_conn {
            Some(Role::Caller)
        } else if user == self.callee && self.callee_conn.as_deref() == Some(conn) {
            Some(Role::Callee)
        } else {
            None
        }
    }

    /// The other party's user and bound connection.
    pub fn peer_of(&self, role: Role) -> (&str, Option<&str>) {
        match role {
            Role::Caller => (&self.callee, self.callee_conn.as_deref()),
            Role::Callee => (&self.caller, Some(&self.caller_conn)),
        }
    }
}
