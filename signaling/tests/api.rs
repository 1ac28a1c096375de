//! Body parsing: each malformed input gets its specific code and names the field.

use pqcall_signaling::Error;
use pqcall_signaling::api::{IceRequest, OfferRequest, PublishRequest, SendRequest, parse_body};
use pqcall_signaling::wire::MAX_CANDIDATES;

#[test]
fn malformed_bodies_get_specific_codes() {
    let e = parse_body::<SendRequest>(b"{not json").unwrap_err();
    assert_eq!(e.code(), "invalid_json");
    assert_eq!(
        parse_body::<SendRequest>(b"").unwrap_err().code(),
        "invalid_json"
    );
    assert_eq!(
        parse_body::<SendRequest>(b"[1,2]").unwrap_err().code(),
        "invalid_json"
    );
    assert_eq!(
        parse_body::<SendRequest>(b"{} trailing")
            .unwrap_err()
            .code(),
        "invalid_json"
    );
    assert_eq!(
        parse_body::<SendRequest>(br#"{"conversation_id":"x","body":"hi"}"#).unwrap_err(),
        Error::MissingField("client_msg_id".into())
    );
    match parse_body::<SendRequest>(br#"{"conversation_id":"x","body":5,"client_msg_id":"m"}"#)
        .unwrap_err()
    {
        Error::InvalidField { field, .. } => assert_eq!(field, "body"),
        e => panic!("{e:?}"),
    }
    assert_eq!(
        parse_body::<OfferRequest>(
            br#"{"to":"bob","sdp":"v=0","kem":{"suite":"ML-KEM-768","ek":"AA=="}}"#
        )
        .unwrap_err(),
        Error::MissingField("kem.commit".into())
    );
    // The candidates' own reader (one allocation for a batch) fails as serde's did.
    for (body, at, says) in [
        (
            r#""candidates":[{"candidate":7}]"#,
            "candidates[0].candidate",
            "invalid type: integer `7`, expected a string",
        ),
        (
            r#""candidates":null"#,
            "candidates",
            "invalid type: null, expected a sequence",
        ),
        (
            r#""candidates":"x""#,
            "candidates",
            "invalid type: string \"x\", expected a sequence",
        ),
    ] {
        let body = format!(r#"{{"call_id":"c",{body}}}"#);
        match parse_body::<IceRequest>(body.as_bytes()).unwrap_err() {
            Error::InvalidField { field, reason } => {
                assert_eq!(field, at, "{body}");
                assert!(reason.starts_with(says), "{body}: {reason}");
            }
            e => panic!("{body}: {e:?}"),
        }
    }
    assert_eq!(
        parse_body::<IceRequest>(br#"{"call_id":"c"}"#).unwrap_err(),
        Error::MissingField("candidates".into())
    );
    assert_eq!(
        parse_body::<IceRequest>(
            br#"{"call_id":"c","candidates":[{"candidate":""},{"sdpMid":"0"}]}"#
        )
        .unwrap_err(),
        Error::MissingField("candidates[1].candidate".into())
    );
    // Past the most a request may hold, candidates are read but not kept: the length is
    // still refused, and a malformed one past it still named.
    let many = |extra: &str| {
        let one = r#"{"candidate":"","sdpMid":"0"}"#;
        format!(
            r#"{{"call_id":"c","candidates":[{}{extra}]}}"#,
            vec![one; 100].join(",")
        )
    };
    let req = parse_body::<IceRequest>(many("").as_bytes()).unwrap();
    assert_eq!(req.candidates.len(), MAX_CANDIDATES + 1);
    assert!(
        matches!(req.validate(), Err(Error::InvalidField { field, .. }) if field == "candidates")
    );
    match parse_body::<IceRequest>(many(r#",{"candidate":7}"#).as_bytes()).unwrap_err() {
        Error::InvalidField { field, .. } => assert_eq!(field, "candidates[100].candidate"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn publish_names_must_be_app_events() {
    let ok: PublishRequest =
        parse_body(br#"{"users":["a"],"event":"app.order_paid","data":{"n":1}}"#).unwrap();
    ok.validate().unwrap();
    for bad in [
        br#"{"users":["a"],"event":"call.offer","data":{}}"#.as_slice(),
        br#"{"users":["a"],"event":"app.","data":{}}"#,
        br#"{"users":["a"],"event":"app.x y","data":{}}"#,
        br#"{"users":[],"event":"app.x","data":{}}"#,
        br#"{"users":["a"],"event":"app.x","data":[1]}"#,
    ] {
        let r: PublishRequest = parse_body(bad).unwrap();
        assert_eq!(
            r.validate().unwrap_err().code(),
            "invalid_field",
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn a_stream_opens_with_hello_then_replay_or_reset_and_skips_what_it_sent() {
    use pqcall_signaling::EventId;
    use pqcall_signaling::log::{Audience, LoggedEvent, Replay, ResetReason};
    use pqcall_signaling::stream::{Opening, Position};
    let id = |seq| EventId { epoch: 7, seq };
    let now = 1_700_000_000_123;

    // Fresh: hello carries the log's newest id; live events after it are new.
    let o = Opening::new("alice", "c1", Position::Fresh(id(4)), now);
    assert_eq!(
        (o.hello.resumed, o.hello_id, o.after),
        (false, Some(id(4)), Some(id(4)))
    );
    assert!((1000..3000).contains(&o.retry_ms));
    assert!(o.reset.is_none() && o.replay.is_empty());
    assert!(Position::Fresh(id(4)).resends_offers());
    assert!(!Opening::is_new(o.after, Some(id(4))));
    assert!(Opening::is_new(o.after, Some(id(5))));
    assert!(Opening::is_new(o.after, Some(EventId { epoch: 8, seq: 1 })));
    assert!(
        Opening::is_new(o.after, None),
        "ephemeral events always pass"
    );

    // Resumed with events: they follow hello, and live copies of them are skipped.
    let ev = |seq| LoggedEvent {
        id: id(seq),
        audience: Audience::All,
        name: "x".into(),
        data: "{}".into(),
        at: now,
    };
    let pos = || Position::Resumed {
        last: Some(id(2)),
        replay: Replay::Events(vec![ev(3), ev(4)]),
    };
    assert!(!pos().resends_offers());
    let o = Opening::new("alice", "c1", pos(), now);
    assert!(o.hello.resumed && o.hello_id.is_none() && o.reset.is_none());
    assert_eq!((o.replay.len(), o.after), (2, Some(id(4))));
    assert!(!Opening::is_new(o.after, Some(id(3))));

    // Resumed with nothing new: live events after the given id.
    let o = Opening::new(
        "alice",
        "c1",
        Position::Resumed {
            last: Some(id(4)),
            replay: Replay::Events(vec![]),
        },
        now,
    );
    assert_eq!((o.hello.resumed, o.after), (true, Some(id(4))));

    // Reset: `reset` with the newest id; offers are sent again.
    let pos = || Position::Resumed {
        last: None,
        replay: Replay::Reset {
            reason: ResetReason::OutOfWindow,
            newest: id(9),
        },
    };
    assert!(pos().resends_offers());
    let o = Opening::new("alice", "c1", pos(), now);
    let (reset_id, reset) = o.reset.unwrap();
    assert_eq!(
        (reset_id, reset.reason.as_str(), o.after, o.hello.resumed),
        (id(9), "out_of_window", Some(id(9)), false)
    );
}
