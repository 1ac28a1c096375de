//! The behaviour every [`ChatStore`] must have; run against each backend by the tests.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test suite: a failed step is a failed check

use pqcall_signaling::CallState;
use pqcall_signaling::activity::{CallRecord, Direction};
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
    run_activity(store, salt).await;
}

/// docs/PROTOCOL.md §9: the list by activity with unread counts, read markers,
/// contacts, call history. Users are salted: a shared database keeps earlier runs.
async fn run_activity(store: &dyn ChatStore, salt: &str) {
    let (u, v, w) = (
        format!("u-{salt}"),
        format!("v-{salt}"),
        format!("w-{salt}"),
    );
    let ids: Vec<String> = (0..3)
        .map(|n| format!("{:0>32}", format!("{salt}a{n}")))
        .collect();
    for (n, id) in ids.iter().enumerate() {
        let other = if n == 2 { &w } else { &v };
        let mut c = conv(id, &[u.as_str(), other.as_str()]);
        c.title = Some(format!("t{n}"));
        store.create_conversation(&c).await.unwrap();
    }
    let titles = |page: &[pqcall_signaling::activity::ConversationSummary]| {
        page.iter()
            .map(|c| c.title.clone().unwrap())
            .collect::<Vec<_>>()
    };
    let (page, more) = store.list(&u, None, 10).await.unwrap();
    assert_eq!(
        titles(&page),
        ["t2", "t1", "t0"],
        "newest conversation first"
    );
    assert!(!more);
    assert!(
        page.iter()
            .all(|c| c.last_message.is_none() && c.unread == 0)
    );

    // A message moves its conversation to the top; the sender has nothing unread.
    let mut sent = vec![];
    for n in 0..3 {
        let (m, _) = store
            .insert_message(&msg(&ids[0], &v, 100 + n))
            .await
            .unwrap();
        sent.push(m);
    }
    let (page, more) = store.list(&u, None, 2).await.unwrap();
    assert_eq!(titles(&page), ["t0", "t2"]);
    assert!(more, "a third conversation follows");
    assert_eq!(page[0].last_message.as_ref(), Some(&sent[2]));
    assert_eq!(page[0].members, [u.clone(), v.clone()]);
    assert_eq!(page[0].unread, 3, "the other member's messages count");
    let (rest, more) = store.list(&u, Some(&ids[2]), 2).await.unwrap();
    assert_eq!((titles(&rest), more), (vec!["t1".to_owned()], false));
    let (theirs, _) = store.list(&v, None, 10).await.unwrap();
    assert_eq!(theirs[0].unread, 0, "one's own messages are never unread");
    assert_eq!(theirs.len(), 2, "only one's own conversations");
    assert_eq!(
        store.list(&w, Some(&ids[0]), 10).await.unwrap_err().code(),
        "invalid_field",
        "a cursor that is not one of the user's conversations"
    );

    // Read markers only move forward.
    assert!(store.mark_read(&ids[0], &u, &sent[1].id).await.unwrap());
    let unread = |page: Vec<pqcall_signaling::activity::ConversationSummary>| page[0].unread;
    assert_eq!(unread(store.list(&u, None, 1).await.unwrap().0), 1);
    assert!(
        !store.mark_read(&ids[0], &u, &sent[0].id).await.unwrap(),
        "older: no-op"
    );
    assert!(
        !store.mark_read(&ids[0], &u, &sent[1].id).await.unwrap(),
        "same: no-op"
    );
    assert_eq!(unread(store.list(&u, None, 1).await.unwrap().0), 1);
    assert!(store.mark_read(&ids[0], &u, &sent[2].id).await.unwrap());
    assert_eq!(unread(store.list(&u, None, 1).await.unwrap().0), 0);
    for bad in [ids[1].as_str(), ids[2].as_str()] {
        let e = store.mark_read(bad, &u, &sent[0].id).await.unwrap_err();
        assert_eq!(
            e.code(),
            "invalid_field",
            "a message of another conversation"
        );
    }
    let e = store.mark_read(&ids[0], &u, "x").await.unwrap_err();
    assert_eq!(e.code(), "invalid_field");

    // Contacts: everyone who shares a conversation, once, not oneself.
    let mut contacts = store.contacts(&u, 100).await.unwrap();
    contacts.sort();
    assert_eq!(contacts, [v.clone(), w.clone()]);
    assert_eq!(store.contacts(&u, 1).await.unwrap().len(), 1, "limited");
    assert_eq!(
        store.contacts(&v, 100).await.unwrap(),
        std::slice::from_ref(&u)
    );
    let stranger = format!("x-{salt}");
    let asked = [v.clone(), w.clone(), stranger.clone(), u.clone()];
    let shared = store.shares_with(&v, &asked).await.unwrap();
    assert_eq!(
        shared,
        [u.clone()].into_iter().collect(),
        "v shares only with u"
    );

    // Call history: both sides, the last to finish first, pages, no duplicates.
    let record = |n: u64, outcome| CallRecord {
        call_id: format!("{salt}call{n}"),
        caller: u.clone(),
        callee: v.clone(),
        outcome,
        started_at: 1_700_000_000 + n,
        answered_at: (outcome == CallState::Ended).then_some(1_700_000_001 + n),
        ended_at: 1_700_000_010 + n,
    };
    let outcomes = [CallState::Missed, CallState::Ended, CallState::Declined];
    for (n, outcome) in (1..).zip(outcomes).chain([(2, CallState::Ended)]) {
        store.record_call(&record(n, outcome)).await.unwrap();
    }
    let (calls, more) = store.call_history(&u, None, 2).await.unwrap();
    let call_ids = |c: &[pqcall_signaling::activity::CallHistoryEntry]| {
        c.iter().map(|e| e.call_id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        call_ids(&calls),
        [format!("{salt}call3"), format!("{salt}call2")]
    );
    assert!(more);
    assert_eq!(calls[1].direction, Direction::Outgoing);
    assert_eq!(calls[1].peer, v);
    assert_eq!(calls[1].outcome, CallState::Ended);
    assert_eq!(calls[1].answered_at, Some(1_700_000_003));
    assert_eq!(
        (calls[1].started_at, calls[1].ended_at),
        (1_700_000_002, 1_700_000_012)
    );
    let (older, more) = store
        .call_history(&u, Some(&calls[1].call_id), 10)
        .await
        .unwrap();
    assert_eq!(call_ids(&older), [format!("{salt}call1")]);
    assert!(!more);
    assert_eq!(older[0].outcome, CallState::Missed);
    assert_eq!(older[0].answered_at, None);
    let (theirs, _) = store.call_history(&v, None, 10).await.unwrap();
    assert_eq!(theirs.len(), 3, "the callee has each call once");
    assert!(
        theirs
            .iter()
            .all(|e| e.direction == Direction::Incoming && e.peer == u)
    );
    assert!(store.call_history(&w, None, 10).await.unwrap().0.is_empty());
    let e = store
        .call_history(&w, Some(&calls[0].call_id), 10)
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        "invalid_field",
        "a cursor from another user's history"
    );
}
