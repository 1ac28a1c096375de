//! Chat history in SQLite through sqlx: migrations at open, WAL journal. A send returns
//! only after its transaction committed, so it survives the process being killed.

use std::path::Path;
use std::str::FromStr;

use pqcall_signaling::Error;
use pqcall_signaling::api::Message;
use pqcall_signaling::chat::{Conversation, NewMessage};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{ChatStore, message_id, parse_message_id};

/// Chat history in one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn db(e: sqlx::Error) -> Error {
    tracing::error!(error = %e, "sqlite");
    Error::Unavailable("the chat store failed".into())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for
    /// `":memory:"`, and runs the migrations.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let memory = path.as_os_str() == ":memory:";
        let opts = if memory {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL: a commit is in the OS once it returns, which survives
                // kill -9 (not a power cut; use FULL for that).
                .synchronous(SqliteSynchronous::Normal)
        }
        .foreign_keys(true);
        // One connection for an in-memory database (each connection would get its own).
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    fn row_to_message(r: &sqlx::sqlite::SqliteRow) -> Message {
        Message {
            id: message_id(r.get::<i64, _>("seq") as u64),
            conversation_id: r.get("conversation_id"),
            from: r.get("sender"),
            body: r.get("body"),
            client_msg_id: r.get("client_msg_id"),
            created_at: r.get::<i64, _>("created_at") as u64,
        }
    }
}

#[async_trait::async_trait]
impl ChatStore for SqliteStore {
    async fn create_conversation(&self, conv: &Conversation) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO conversations (id, title, open, created_by, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&conv.id)
            .bind(&conv.title)
            .bind(conv.open)
            .bind(&conv.created_by)
            .bind(conv.created_at as i64)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for (i, m) in conv.members.iter().enumerate() {
            sqlx::query(
                "INSERT INTO members (conversation_id, user_id, position) VALUES (?, ?, ?)",
            )
            .bind(&conv.id)
            .bind(m)
            .bind(i as i64)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn conversation(&self, id: &str) -> Result<Option<Conversation>, Error> {
        let Some(row) = sqlx::query(
            "SELECT id, title, open, created_by, created_at FROM conversations WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let members =
            sqlx::query("SELECT user_id FROM members WHERE conversation_id = ? ORDER BY position")
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.get::<String, _>("user_id"))
                .collect();
        Ok(Some(Conversation {
            id: row.get("id"),
            title: row.get("title"),
            open: row.get("open"),
            members,
            created_by: row.get("created_by"),
            created_at: row.get::<i64, _>("created_at") as u64,
        }))
    }

    async fn add_member(&self, id: &str, user: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO members (conversation_id, user_id, position) \
             SELECT ?1, ?2, COALESCE(MAX(position), -1) + 1 FROM members WHERE conversation_id = ?1 \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(user)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn insert_message(&self, m: &NewMessage) -> Result<(Message, bool), Error> {
        let inserted = sqlx::query(
            "INSERT INTO messages (conversation_id, sender, body, client_msg_id, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (conversation_id, sender, client_msg_id) DO NOTHING \
             RETURNING seq, conversation_id, sender, body, client_msg_id, created_at",
        )
        .bind(&m.conversation_id)
        .bind(&m.from)
        .bind(&m.body)
        .bind(&m.client_msg_id)
        .bind(m.created_at as i64)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if let Some(row) = inserted {
            return Ok((Self::row_to_message(&row), true));
        }
        let row = sqlx::query(
            "SELECT seq, conversation_id, sender, body, client_msg_id, created_at FROM messages \
             WHERE conversation_id = ? AND sender = ? AND client_msg_id = ?",
        )
        .bind(&m.conversation_id)
        .bind(&m.from)
        .bind(&m.client_msg_id)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok((Self::row_to_message(&row), false))
    }

    async fn load(
        &self,
        conversation_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), Error> {
        let before = match before {
            Some(b) => parse_message_id(b)?.min(i64::MAX as u64) as i64,
            None => i64::MAX,
        };
        let mut rows = sqlx::query(
            "SELECT seq, conversation_id, sender, body, client_msg_id, created_at FROM messages \
             WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(conversation_id)
        .bind(before)
        .bind(limit as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let mut messages: Vec<Message> = rows.iter().map(Self::row_to_message).collect();
        messages.reverse();
        Ok((messages, has_more))
    }
}
