//! Chat history in SQLite through sqlx: migrations at open, WAL journal. A send returns
//! only after its transaction committed, so it survives the process being killed.
//!
//! An in-memory database (`:memory:`) lives only as long as some connection to it is
//! open, and sqlx closes a pool connection whenever it doubts it (a query cancelled
//! by a client that went away, a failed ping on release) and opens a fresh, empty one.
//! So the store holds one connection of its own for its whole life: the pool's
//! connections may come and go, the database and its tables stay.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use sqlx::ConnectOptions;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

/// Chat history in one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// For an in-memory database: the connection that keeps it alive; never used.
    _keeper: Option<Arc<Keeper>>,
}

/// A connection held open and never used (see the module comment).
struct Keeper(#[allow(dead_code)] Mutex<SqliteConnection>);

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keeper")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for
    /// `":memory:"`, and runs the migrations.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let memory = path.as_os_str() == ":memory:";
        let opts = if memory {
            // A uniquely named database with a shared cache: every connection of this
            // store opens the same one.
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
        let keeper = if memory {
            Some(Arc::new(Keeper(Mutex::new(opts.connect().await?))))
        } else {
            None
        };
        // One pool connection for an in-memory database: a shared cache locks whole
        // tables, so a second connection would only wait.
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            _keeper: keeper,
        })
    }
}

super::sql::sql_chat_store!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    "sqlite",
    "(SELECT COALESCE(MAX(activity), 0) + 1 FROM conversations)"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ChatStore;

    /// The in-memory database outlives the pool's connection: closing it (as sqlx does
    /// after a query a departed client cancelled) loses no table and no row.
    #[tokio::test]
    async fn in_memory_database_outlives_its_pool_connection() {
        let store = SqliteStore::open(Path::new(":memory:")).await.unwrap();
        let conv = pqcall_signaling::chat::Conversation {
            id: format!("{:0>32}", "1"),
            title: Some("t".into()),
            open: false,
            members: vec!["a".into(), "b".into()],
            created_by: "a".into(),
            created_at: 1,
        };
        store.create_conversation(&conv).await.unwrap();
        store.pool.acquire().await.unwrap().close().await.unwrap();
        let found = store.conversation(&conv.id).await.unwrap();
        assert_eq!(found.map(|c| c.members), Some(conv.members));
    }
}
