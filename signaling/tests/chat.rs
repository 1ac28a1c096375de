//! Chat rules: creation, open and invite-only joins, who may write, typing that
//! expires by itself.

mod common;
use common::*;
use pqcall_signaling::api::{CreateConversationRequest, Message, SendRequest};
use pqcall_signaling::chat::{self, Join};
use pqcall_signaling::{CoreConfig, Event, Output, Valid};

fn create(open: bool) -> chat::Conversation {
    let req = CreateConversationRequest {
        members: vec!["bob".into(), "alice".into(), "bob".into()],
        title: None,
        open: Some(open),
    };
    let (conv, out) = chat::create(T0, "alice", "c".repeat(32), &v(req)).unwrap();
    assert_eq!(
        conv.members,
        ["alice", "bob"],
        "creator first, no duplicates"
    );
    assert_eq!(out.len(), 2, "conversation.created to each member");
    conv
}

#[test]
fn joins_open_and_invite_only() {
    let open = create(true);
    match chat::join(&open, "carol").unwrap() {
        Join::Add(out) => {
            let users: Vec<_> = out
                .iter()
                .map(|o| match o {
                    Output::Deliver {
                        user,
                        event: Event::MemberJoined(_),
                        ..
                    } => user.clone(),
                    o => panic!("{o:?}"),
                })
                .collect();
            assert_eq!(users, ["alice", "bob", "carol"]);
        }
        j => panic!("{j:?}"),
    }
    assert_eq!(chat::join(&open, "bob").unwrap(), Join::AlreadyMember);
    let closed = create(false);
    assert_eq!(
        chat::join(&closed, "carol").unwrap_err().code(),
        "forbidden"
    );
    assert_eq!(chat::join(&closed, "bob").unwrap(), Join::AlreadyMember);
}

#[test]
fn only_members_write_and_a_stored_message_reaches_every_member() {
    let conv = create(false);
    let req = SendRequest {
        conversation_id: conv.id.clone(),
        body: "hi".into(),
        client_msg_id: "k".into(),
    };
    let checked = v(req.clone());
    assert_eq!(
        chat::send(T0, &conv, "eve", &checked).unwrap_err().code(),
        "forbidden"
    );
    let draft = chat::send(T0, &conv, "bob", &checked).unwrap();
    assert_eq!((draft.from.as_str(), draft.created_at), ("bob", T0 / 1000));
    let too_big = SendRequest {
        body: "x".repeat(16 * 1024 + 1),
        ..req.clone()
    };
    assert_eq!(Valid::new(too_big).unwrap_err().code(), "invalid_field");
    let empty_key = SendRequest {
        client_msg_id: String::new(),
        ..req
    };
    assert_eq!(Valid::new(empty_key).unwrap_err().code(), "invalid_field");
    let m = Message {
        id: "1".into(),
        conversation_id: conv.id.clone(),
        from: "bob".into(),
        body: "hi".into(),
        client_msg_id: "k".into(),
        created_at: 1,
    };
    let out = chat::message_stored(&conv, &m);
    assert_eq!(out.len(), 2);
}

#[test]
fn typing_goes_to_the_others_and_expires_by_itself() {
    let conv = create(false);
    let mut sim = Sim::new(CoreConfig::default());
    let a = sim.connect("alice");
    let b = sim.connect("bob");
    let out = sim.core.typing(sim.now, "alice", &conv, true).unwrap();
    sim.perform(out);
    assert!(sim.take(&a).is_empty(), "not to the typist");
    assert_eq!(sim.take(&b), ["typing"]);
    // A repeated start while typing only extends it.
    sim.advance(3_000);
    let out = sim.core.typing(sim.now, "alice", &conv, true).unwrap();
    sim.perform(out);
    assert!(sim.take(&b).is_empty());
    // The first start's timer fires but is stale; the second one ends it.
    sim.advance(4_999);
    assert!(sim.take(&b).is_empty());
    sim.advance(1);
    assert!(
        matches!(&sim.inbox[&b][..], [s] if matches!(&s.event, Event::Typing(t) if !t.active)),
        "expired: active false"
    );
    sim.take(&b);
    // Start then stop: two events, the last inactive; the timer then does nothing.
    let out = sim.core.typing(sim.now, "alice", &conv, true).unwrap();
    sim.perform(out);
    let out = sim.core.typing(sim.now, "alice", &conv, false).unwrap();
    sim.perform(out);
    let seen = sim.inbox[&b].clone();
    assert_eq!(seen.len(), 2);
    assert!(matches!(&seen[1].event, Event::Typing(t) if !t.active && t.user_id == "alice"));
    sim.advance(10_000);
    assert_eq!(sim.inbox[&b].len(), 2);
    assert_eq!(
        sim.core
            .typing(sim.now, "eve", &conv, true)
            .unwrap_err()
            .code(),
        "forbidden"
    );
}
