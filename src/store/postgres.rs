//! Chat history in PostgreSQL through sqlx (feature `cluster`): the same trait and the
//! same conformance suite as SQLite, so any node can serve any conversation.

use pqcall_signaling::Error;
use pqcall_signaling::api::Message;
use pqcall_signaling::chat::{Conversation, NewMessage};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};

use super::{ChatStore, message_id, parse_message_id};

/// Chat history in one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

fn db(e: sqlx::Error) -> Error {
    tracing::error!(error = %e, "postgres");
    Error::Unavailable("the chat store failed".into())
}

fn message(r: &PgRow) -> Message {
    Message {
        id: message_id(r.get::<i64, _>("seq") as u64),
        conversation_id: r.get("conversation_id"),
        from: r.get("sender"),
        body: r.get("body"),
        client_msg_id: r.get("client_msg_id"),
        created_at: r.get::<i64, _>("created_at") as u64,
    }
}

const COLUMNS: &str = "seq, conversation_id, sender, body, client_msg_id, created_at";

impl PostgresStore {
    /// Connects to `url` (`postgres://...`) and runs the migrations.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

#[async_trait::async_trait]
impl ChatStore for PostgresStore {
    async fn create_conversation(&self, conv: &Conversation) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO conversations (id, title, open, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
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
                "INSERT INTO members (conversation_id, user_id, position) VALUES ($1, $2, $3)",
            )
            .bind(&conv.id)
            .bind(m)
            .bind(i as i32)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn conversation(&self, id: &str) -> Result<Option<Conversation>, Error> {
        let Some(row) = sqlx::query(
            "SELECT id, title, open, created_by, created_at FROM conversations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let members =
            sqlx::query("SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY position")
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
             SELECT $1, $2, COALESCE(MAX(position), -1) + 1 FROM members WHERE conversation_id = $1 \
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
        let inserted = sqlx::query(&format!(
            "INSERT INTO messages (conversation_id, sender, body, client_msg_id, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (conversation_id, sender, client_msg_id) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(&m.conversation_id)
        .bind(&m.from)
        .bind(&m.body)
        .bind(&m.client_msg_id)
        .bind(m.created_at as i64)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if let Some(row) = inserted {
            return Ok((message(&row), true));
        }
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND sender = $2 AND client_msg_id = $3"
        ))
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
    ) -> Result<(Vec<Message>, bool), Error> {
        let before = match before {
            Some(b) => parse_message_id(b)?.min(i64::MAX as u64) as i64,
            None => i64::MAX,
        };
        let mut rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        ))
        .bind(conversation_id)
        .bind(before)
        .bind(limit as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let mut messages: Vec<Message> = rows.iter().map(message).collect();
        messages.reverse();
        Ok((messages, has_more))
    }
}
