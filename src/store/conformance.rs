//! The behaviour every [`ChatStore`] must have; run against each backend by the tests.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test suite: a failed step is a failed check

use pqcall_signaling::chat::{Conversation, NewMessage};

use super::ChatStore;

fn conv(id: &str, members: &[&str]) -> Conversation {
    Conversation {
        id: id.into(),
        title: Some("t".into()),
        open: true,
        members: members.iter().map(|s| s.to_string()).collect(),
        created_by: members[0].into(),
        created_at: 1_700_000_000,
    }
}

fn msg(conv: &str, from: &str, n: u32) -> NewMessage {
    NewMessage {
        conversation_id: conv.into(),
        from: from.into(),
        body: format!("body {n}"),
        client_msg_id: format!("c{n}"),
        created_at: 1_700_000_000 + n as u64,
    }
}

/// Runs every check; `salt` keeps conversation ids unique per run.
pub async fn run(store: &dyn ChatStore, salt: &str) {
    let id = format!("{:0>32}", format!("{salt}1"));
    assert!(
        store.conversation(&id).await.unwrap().is_none(),
        "unknown conversation is None"
    );
    let c = conv(&id, &["alice", "bob"]);
    store.create_conversation(&c).await.unwrap();
    assert_eq!(
        store.conversation(&id).await.unwrap().as_ref(),
        Some(&c),
        "stored as given, members in order"
    );

    let creator = format!("creator-{salt}");
    assert_eq!(store.created_by(&creator).await.unwrap(), 0);
    for n in 0..3 {
        let other = format!("{:0>32}", format!("{salt}c{n}"));
        store
            .create_conversation(&conv(&other, &[creator.as_str(), "bob"]))
            .await
            .unwrap();
    }
    assert_eq!(
        store.created_by(&creator).await.unwrap(),
        3,
        "created_by counts"
    );

    store.add_member(&id, "carol").await.unwrap();
    store.add_member(&id, "carol").await.unwrap();
    let got = store.conversation(&id).await.unwrap().unwrap();
    assert_eq!(
        got.members,
        ["alice", "bob", "carol"],
        "add_member appends once"
    );

    let mut ids = vec![];
    for n in 0..7 {
        let (m, inserted) = store.insert_message(&msg(&id, "alice", n)).await.unwrap();
        assert!(inserted);
        assert_eq!(m.body, format!("body {n}"));
        ids.push(m.id);
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "message ids increase");
    // Same sender and key: the first message comes back, nothing new is stored.
    let mut retry = msg(&id, "alice", 3);
    retry.body = "changed".into();
    let (m, inserted) = store.insert_message(&retry).await.unwrap();
    assert!(!inserted);
    assert_eq!(
        (m.id.as_str(), m.body.as_str()),
        (ids[3].as_str(), "body 3")
    );
    // The same key from another sender is another message.
    let (_, inserted) = store.insert_message(&msg(&id, "bob", 3)).await.unwrap();
    assert!(inserted);

    let (page, more) = store.load(&id, None, 3).await.unwrap();
    assert_eq!(
        page.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["body 5", "body 6", "body 3"]
    );
    assert!(more);
    let (page, more) = store.load(&id, Some(&ids[2]), 10).await.unwrap();
    assert_eq!(
        page.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        ids[..2].to_vec(),
        "older than `before`, oldest first"
    );
    assert!(!more);
    let (all, more) = store.load(&id, None, 100).await.unwrap();
    assert_eq!((all.len(), more), (8, false));
    assert_eq!(
        store.load(&id, Some("x"), 10).await.unwrap_err().code(),
        "invalid_field"
    );
}
