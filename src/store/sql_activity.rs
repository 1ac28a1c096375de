//! The SQL of docs/PROTOCOL.md §9 (conversations list, read markers, contacts, call
//! history) that both database stores run, and [`sql_activity_methods!`], which writes
//! those [`ChatStore`](super::ChatStore) methods inside each store's implementation.

pub(super) const SELECT_LIST: &str = "SELECT c.id, c.title, c.open, c.created_by, c.created_at, c.activity \
     FROM conversations c JOIN members m ON m.conversation_id = c.id \
     WHERE m.user_id = $1 AND (c.activity < $2 OR (c.activity = $2 AND c.id < $3)) \
     ORDER BY c.activity DESC, c.id DESC LIMIT $4";
pub(super) const SELECT_CURSOR: &str = "SELECT c.activity FROM conversations c \
     JOIN members m ON m.conversation_id = c.id WHERE c.id = $1 AND m.user_id = $2";
pub(super) const SELECT_LAST: &str = "SELECT seq, conversation_id, sender, body, client_msg_id, created_at \
     FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 1";
pub(super) const COUNT_UNREAD: &str = "SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages \
     WHERE conversation_id = $1 AND sender <> $2 AND seq > \
     COALESCE((SELECT seq FROM reads WHERE conversation_id = $1 AND user_id = $2), 0) \
     LIMIT $3) AS unread";
pub(super) const SELECT_MESSAGE_SEQ: &str =
    "SELECT seq FROM messages WHERE seq = $1 AND conversation_id = $2";
pub(super) const UPSERT_READ: &str = "INSERT INTO reads (conversation_id, user_id, seq) \
     VALUES ($1, $2, $3) ON CONFLICT (conversation_id, user_id) \
     DO UPDATE SET seq = excluded.seq WHERE reads.seq < excluded.seq";
pub(super) const SELECT_CONTACTS: &str = "SELECT DISTINCT o.user_id FROM members m \
     JOIN members o ON o.conversation_id = m.conversation_id \
     WHERE m.user_id = $1 AND o.user_id <> $1 LIMIT $2";
pub(super) const SHARES_WITH: &str = "SELECT 1 AS one FROM members m \
     JOIN members o ON o.conversation_id = m.conversation_id \
     WHERE m.user_id = $1 AND o.user_id = $2 LIMIT 1";
pub(super) const INSERT_CALL: &str = "INSERT INTO call_history \
     (user_id, call_id, peer, direction, outcome, started_at, answered_at, ended_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (user_id, call_id) DO NOTHING";
pub(super) const SELECT_CALL_SEQ: &str =
    "SELECT seq FROM call_history WHERE user_id = $1 AND call_id = $2";
pub(super) const SELECT_CALLS: &str = "SELECT call_id, peer, direction, outcome, started_at, answered_at, ended_at \
     FROM call_history WHERE user_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3";

/// 400 `invalid_field` for a `before` cursor that names nothing of the caller's.
pub(super) fn bad_cursor() -> pqcall_signaling::Error {
    pqcall_signaling::Error::invalid("before", "not an item of your list")
}

/// Implements [`ActivityStore`](super::ActivityStore) for `$store` (a struct with a
/// `pool` field) whose rows are `$row`, beside `message` and `db`, which
/// [`sql_chat_store!`](super::sql::sql_chat_store) defines.
macro_rules! sql_activity_store {
    ($store:ty, $row:ty) => {
        #[::async_trait::async_trait]
        impl $crate::store::ActivityStore for $store {
            async fn list(
                &self,
                user: &str,
                before: Option<&str>,
                limit: usize,
            ) -> Result<
                (Vec<::pqcall_signaling::activity::ConversationSummary>, bool),
                ::pqcall_signaling::Error,
            > {
                use ::sqlx::Row;
                use $crate::store::sql_activity::*;
                let (activity, after_id) = match before {
                    None => (i64::MAX, String::new()),
                    Some(id) => {
                        let row = ::sqlx::query(SELECT_CURSOR)
                            .bind(id)
                            .bind(user)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(db)?
                            .ok_or_else(bad_cursor)?;
                        (row.get::<i64, _>("activity"), id.to_owned())
                    }
                };
                let mut rows = ::sqlx::query(SELECT_LIST)
                    .bind(user)
                    .bind(activity)
                    .bind(&after_id)
                    .bind(limit as i64 + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let has_more = rows.len() > limit;
                rows.truncate(limit);
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let id: String = row.get("id");
                    use $crate::store::ChatStore as _;
                    let Some(conv) = self.conversation(&id).await? else {
                        continue;
                    };
                    let last = ::sqlx::query(SELECT_LAST)
                        .bind(&id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                    let unread = ::sqlx::query(COUNT_UNREAD)
                        .bind(&id)
                        .bind(user)
                        .bind($crate::store::MAX_UNREAD as i64)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?;
                    out.push(::pqcall_signaling::activity::ConversationSummary::of(
                        conv,
                        last.as_ref().map(message),
                        unread.get::<i64, _>("n") as u64,
                    ));
                }
                Ok((out, has_more))
            }

            async fn mark_read(
                &self,
                conversation_id: &str,
                user: &str,
                message_id: &str,
            ) -> Result<bool, ::pqcall_signaling::Error> {
                use $crate::store::sql_activity::*;
                let not_here = || {
                    ::pqcall_signaling::Error::invalid(
                        "message_id",
                        "not a message of this conversation",
                    )
                };
                let seq = $crate::store::parse_message_id(message_id).map_err(|_| not_here())?;
                let seq = i64::try_from(seq).map_err(|_| not_here())?;
                ::sqlx::query(SELECT_MESSAGE_SEQ)
                    .bind(seq)
                    .bind(conversation_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .ok_or_else(not_here)?;
                let done = ::sqlx::query(UPSERT_READ)
                    .bind(conversation_id)
                    .bind(user)
                    .bind(seq)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(done.rows_affected() > 0)
            }

            async fn contacts(
                &self,
                user: &str,
                limit: usize,
            ) -> Result<Vec<String>, ::pqcall_signaling::Error> {
                use ::sqlx::Row;
                let rows = ::sqlx::query($crate::store::sql_activity::SELECT_CONTACTS)
                    .bind(user)
                    .bind(limit as i64)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(rows.iter().map(|r| r.get::<String, _>("user_id")).collect())
            }

            async fn shares_with(
                &self,
                user: &str,
                users: &[String],
            ) -> Result<::std::collections::HashSet<String>, ::pqcall_signaling::Error> {
                let mut shared = ::std::collections::HashSet::new();
                for other in users {
                    if other == user || shared.contains(other) {
                        continue;
                    }
                    let found = ::sqlx::query($crate::store::sql_activity::SHARES_WITH)
                        .bind(user)
                        .bind(other)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                    if found.is_some() {
                        shared.insert(other.clone());
                    }
                }
                Ok(shared)
            }

            async fn record_call(
                &self,
                call: &::pqcall_signaling::activity::CallRecord,
            ) -> Result<(), ::pqcall_signaling::Error> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                for (owner, e) in call.entries() {
                    ::sqlx::query($crate::store::sql_activity::INSERT_CALL)
                        .bind(owner)
                        .bind(&e.call_id)
                        .bind(&e.peer)
                        .bind(e.direction.as_str())
                        .bind(e.outcome.as_str())
                        .bind(e.started_at as i64)
                        .bind(e.answered_at.map(|a| a as i64))
                        .bind(e.ended_at as i64)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }

            async fn call_history(
                &self,
                user: &str,
                before: Option<&str>,
                limit: usize,
            ) -> Result<
                (Vec<::pqcall_signaling::activity::CallHistoryEntry>, bool),
                ::pqcall_signaling::Error,
            > {
                use ::sqlx::Row;
                use $crate::store::sql_activity::*;
                let below = match before {
                    None => i64::MAX,
                    Some(id) => ::sqlx::query(SELECT_CALL_SEQ)
                        .bind(user)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .ok_or_else(bad_cursor)?
                        .get::<i64, _>("seq"),
                };
                let mut rows = ::sqlx::query(SELECT_CALLS)
                    .bind(user)
                    .bind(below)
                    .bind(limit as i64 + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let has_more = rows.len() > limit;
                rows.truncate(limit);
                let calls = rows.iter().filter_map(|r: &$row| {
                    use ::pqcall_signaling::activity::{
                        CallHistoryEntry, Direction, parse_outcome,
                    };
                    Some(CallHistoryEntry {
                        call_id: r.get("call_id"),
                        peer: r.get("peer"),
                        direction: Direction::parse(r.get("direction"))?,
                        outcome: parse_outcome(r.get("outcome"))?,
                        started_at: r.get::<i64, _>("started_at") as u64,
                        answered_at: r.get::<Option<i64>, _>("answered_at").map(|a| a as u64),
                        ended_at: r.get::<i64, _>("ended_at") as u64,
                    })
                });
                Ok((calls.collect(), has_more))
            }
        }
    };
}
pub(super) use sql_activity_store;
