//! Chat history in SQLite through sqlx: migrations at open, WAL journal. A send returns
//! only after its transaction committed, so it survives the process being killed.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Chat history in one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
}

super::sql::sql_chat_store!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    "sqlite",
    "(SELECT COALESCE(MAX(activity), 0) + 1 FROM conversations)"
);
