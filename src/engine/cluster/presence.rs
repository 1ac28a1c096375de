//! Presence and the chat store in cluster mode (docs/PROTOCOL.md §9): connection counts
//! read from the shared user records, and the store every node writes call history to.

use std::sync::Arc;

use pqcall_signaling::{Error, UserRecord};

use super::log::unavailable;
use super::records::Cluster;
use super::transaction::stored_record;
use crate::store::ChatStore;

impl Cluster {
    /// Sends finished calls and presence changes to `store` (PostgreSQL, shared by every
    /// node).
    pub fn with_store(mut self, store: Arc<dyn ChatStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How many connections (open, or in their grace period) each of `users` has, read
    /// from their records with one MGET.
    pub async fn connections_of(&self, users: &[String]) -> Result<Vec<usize>, Error> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = users.iter().map(|u| self.user_key(u)).collect();
        let mut con = self.con.clone();
        let found: Vec<Option<String>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(found
            .iter()
            .map(|d| {
                let json = d.as_deref().and_then(|d| stored_record(d).1);
                let record = json.and_then(|d| serde_json::from_str(d).ok());
                record.map_or(0, |r: UserRecord| r.connections())
            })
            .collect())
    }
}
