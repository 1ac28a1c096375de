//! Body parsing: each malformed input gets its specific code and names the field.

use pqcall_signaling::Error;
use pqcall_signaling::api::{IceRequest, OfferRequest, PublishRequest, SendRequest, parse_body};

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
    match parse_body::<IceRequest>(br#"{"call_id":"c","candidates":[{"candidate":7}]}"#)
        .unwrap_err()
    {
        Error::InvalidField { field, .. } => assert_eq!(field, "candidates[0].candidate"),
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
fn sse_frames_are_one_event_each() {
    let f = pqcall_signaling::sse::frame(Some("5-3"), "call.ice", r#"{"a":1}"#);
    assert_eq!(f, "id: 5-3\nevent: call.ice\ndata: {\"a\":1}\n\n");
    let f = pqcall_signaling::sse::frame(None, "typing", "{}");
    assert_eq!(f, "event: typing\ndata: {}\n\n");
}
