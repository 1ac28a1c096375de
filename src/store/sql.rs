//! The SQL both database stores run. sqlx's SQLite driver accepts PostgreSQL's `$N`
//! placeholders, so one text serves both, and [`sql_chat_store!`] writes the one
//! [`ChatStore`](super::ChatStore) implementation for each pool type.

pub(super) const INSERT_CONVERSATION: &str = "INSERT INTO conversations (id, title, open, created_by, created_at) VALUES ($1, $2, $3, $4, $5)";
pub(super) const INSERT_MEMBER: &str =
    "INSERT INTO members (conversation_id, user_id, position) VALUES ($1, $2, $3)";
pub(super) const SELECT_CONVERSATION: &str =
    "SELECT id, title, open, created_by, created_at FROM conversations WHERE id = $1";
pub(super) const SELECT_MEMBERS: &str =
    "SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY position";
pub(super) const COUNT_CREATED: &str =
    "SELECT COUNT(*) AS n FROM conversations WHERE created_by = $1";
pub(super) const ADD_MEMBER: &str = "INSERT INTO members (conversation_id, user_id, position) \
     SELECT $1, $2, COALESCE(MAX(position), -1) + 1 FROM members WHERE conversation_id = $1 \
     ON CONFLICT DO NOTHING";
pub(super) const INSERT_MESSAGE: &str = "INSERT INTO messages \
     (conversation_id, sender, body, client_msg_id, created_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (conversation_id, sender, client_msg_id) DO NOTHING \
     RETURNING seq, conversation_id, sender, body, client_msg_id, created_at";
pub(super) const SELECT_MESSAGE: &str = "SELECT seq, conversation_id, sender, body, client_msg_id, created_at FROM messages \
     WHERE conversation_id = $1 AND sender = $2 AND client_msg_id = $3";
pub(super) const SELECT_PAGE: &str = "SELECT seq, conversation_id, sender, body, client_msg_id, created_at FROM messages \
     WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3";

/// A database error, logged, becomes 503 `unavailable`: the client may retry.
pub(super) fn failed(store: &'static str, e: sqlx::Error) -> pqcall_signaling::Error {
    tracing::error!(error = %e, store, "chat store");
    pqcall_signaling::Error::Unavailable("the chat store failed".into())
}

/// Implements [`ChatStore`](super::ChatStore) for `$store` (a struct with a `pool`
/// field) whose rows are `$row`; `$name` names the backend in logs; `$next` is the SQL
/// expression of the next activity number (see the migrations `0003_activity.sql`).
macro_rules! sql_chat_store {
    ($store:ty, $row:ty, $name:literal, $next:literal) => {
        /// Marks conversation `$1` as the latest activity.
        const BUMP: &str = concat!(
            "UPDATE conversations SET activity = ",
            $next,
            " WHERE id = $1"
        );

        fn message(r: &$row) -> ::pqcall_signaling::api::Message {
            use ::sqlx::Row;
            ::pqcall_signaling::api::Message {
                id: $crate::store::message_id(r.get::<i64, _>("seq") as u64),
                conversation_id: r.get("conversation_id"),
                from: r.get("sender"),
                body: r.get("body"),
                client_msg_id: r.get("client_msg_id"),
                created_at: r.get::<i64, _>("created_at") as u64,
            }
        }

        fn db(e: ::sqlx::Error) -> ::pqcall_signaling::Error {
            $crate::store::sql::failed($name, e)
        }

        #[::async_trait::async_trait]
        impl $crate::store::ChatStore for $store {
            async fn create_conversation(
                &self,
                conv: &::pqcall_signaling::chat::Conversation,
            ) -> Result<(), ::pqcall_signaling::Error> {
                use $crate::store::sql::*;
                let mut tx = self.pool.begin().await.map_err(db)?;
                ::sqlx::query(INSERT_CONVERSATION)
                    .bind(&conv.id)
                    .bind(&conv.title)
                    .bind(conv.open)
                    .bind(&conv.created_by)
                    .bind(conv.created_at as i64)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                for (i, m) in conv.members.iter().enumerate() {
                    ::sqlx::query(INSERT_MEMBER)
                        .bind(&conv.id)
                        .bind(m)
                        .bind(i32::try_from(i).unwrap_or(i32::MAX))
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                ::sqlx::query(BUMP)
                    .bind(&conv.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)
            }

            async fn conversation(
                &self,
                id: &str,
            ) -> Result<Option<::pqcall_signaling::chat::Conversation>, ::pqcall_signaling::Error>
            {
                use ::sqlx::Row;
                use $crate::store::sql::*;
                let Some(row) = ::sqlx::query(SELECT_CONVERSATION)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                else {
                    return Ok(None);
                };
                let members = ::sqlx::query(SELECT_MEMBERS)
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| r.get::<String, _>("user_id"))
                    .collect();
                Ok(Some(::pqcall_signaling::chat::Conversation {
                    id: row.get("id"),
                    title: row.get("title"),
                    open: row.get("open"),
                    members,
                    created_by: row.get("created_by"),
                    created_at: row.get::<i64, _>("created_at") as u64,
                }))
            }

            async fn add_member(
                &self,
                id: &str,
                user: &str,
            ) -> Result<(), ::pqcall_signaling::Error> {
                ::sqlx::query($crate::store::sql::ADD_MEMBER)
                    .bind(id)
                    .bind(user)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn created_by(&self, user: &str) -> Result<u64, ::pqcall_signaling::Error> {
                use ::sqlx::Row;
                let row = ::sqlx::query($crate::store::sql::COUNT_CREATED)
                    .bind(user)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(row.get::<i64, _>("n") as u64)
            }

            async fn insert_message(
                &self,
                m: &::pqcall_signaling::chat::NewMessage,
            ) -> Result<(::pqcall_signaling::api::Message, bool), ::pqcall_signaling::Error> {
                use $crate::store::sql::*;
                let mut tx = self.pool.begin().await.map_err(db)?;
                let inserted = ::sqlx::query(INSERT_MESSAGE)
                    .bind(&m.conversation_id)
                    .bind(&m.from)
                    .bind(&m.body)
                    .bind(&m.client_msg_id)
                    .bind(m.created_at as i64)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                if let Some(row) = inserted {
                    ::sqlx::query(BUMP)
                        .bind(&m.conversation_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    tx.commit().await.map_err(db)?;
                    return Ok((message(&row), true));
                }
                drop(tx);
                let row = ::sqlx::query(SELECT_MESSAGE)
                    .bind(&m.conversation_id)
                    .bind(&m.from)
                    .bind(&m.client_msg_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                Ok((message(&row), false))
            }

            async fn load(
                &self,
                conversation_id: &str,
                before: Option<&str>,
                limit: usize,
            ) -> Result<(Vec<::pqcall_signaling::api::Message>, bool), ::pqcall_signaling::Error>
            {
                let before = match before {
                    Some(b) => $crate::store::parse_message_id(b)?.min(i64::MAX as u64) as i64,
                    None => i64::MAX,
                };
                let rows = ::sqlx::query($crate::store::sql::SELECT_PAGE)
                    .bind(conversation_id)
                    .bind(before)
                    .bind(limit as i64 + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let (rows, has_more) = $crate::store::page(rows, limit);
                let mut messages: Vec<_> = rows.iter().map(message).collect();
                messages.reverse();
                Ok((messages, has_more))
            }
        }

        $crate::store::sql_activity::sql_activity_store!($store, $row);
    };
}
pub(super) use sql_chat_store;
