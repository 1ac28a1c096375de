//! Chat history in PostgreSQL through sqlx (feature `cluster`): the same trait and the
//! same conformance suite as SQLite, so any node can serve any conversation.

use sqlx::postgres::{PgPool, PgPoolOptions};

/// Chat history in one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`) and runs the migrations.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

super::sql::sql_chat_store!(
    PostgresStore,
    sqlx::postgres::PgRow,
    "postgres",
    "nextval('activity_seq')"
);
