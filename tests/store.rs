//! The chat store conformance suite against every backend, and SQLite durability.

use pqcall::store::{ChatStore, MemoryStore, SqliteStore, conformance};

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run(&MemoryStore::default(), "m").await;
}

#[tokio::test]
async fn sqlite_in_memory_conforms() {
    let s = SqliteStore::open(std::path::Path::new(":memory:"))
        .await
        .unwrap();
    conformance::run(&s, "s").await;
}

#[tokio::test]
async fn sqlite_file_conforms_and_keeps_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    {
        let s = SqliteStore::open(&path).await.unwrap();
        conformance::run(&s, "f").await;
        assert!(
            dir.path().join("chat.db-wal").exists(),
            "file databases use the WAL journal"
        );
    }
    let s = SqliteStore::open(&path).await.unwrap();
    let id = format!("{:0>32}", "f1");
    let (all, _) = s.load(&id, None, 100).await.unwrap();
    assert_eq!(all.len(), 8, "every message is still there after reopening");
}
