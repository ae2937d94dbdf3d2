//! Codec tests: frames encoded here in the contract's shape, decoded by [`decode`].

use serde_json::json;

use super::*;

fn msg(t: Option<&str>, op: i64, body: serde_json::Value) -> Vec<u8> {
    encode(
        &Header {
            op,
            t: t.map(str::to_owned),
        },
        &body,
    )
    .unwrap()
}

fn link(seq: i64, kind: &str, did: &str) -> Vec<u8> {
    msg(
        Some("#link"),
        1,
        json!({"seq": seq, "time": "2026-12-06T00:00:00.000Z", "kind": kind, "did": did,
               "link": {"did": did, "inboxId": "ab", "status": "verified"}}),
    )
}

#[test]
fn every_link_kind_decodes_to_a_hint_with_its_seq_and_did() {
    for kind in [
        "created",
        "updated",
        "verified",
        "invalidated",
        "hidden",
        "shown",
        "removed",
    ] {
        let e = decode(&link(42, kind, "did:plc:abc")).unwrap();
        let Event::Link { seq, kind: k, did } = e else {
            panic!("{e:?}")
        };
        assert_eq!((seq, k.as_str(), did.as_str()), (42, kind, "did:plc:abc"));
    }
    // The link view may be null (removed).
    let e = msg(
        Some("#link"),
        1,
        json!({"seq": 1, "time": "t", "kind": "removed", "did": "did:web:a.test", "link": null}),
    );
    assert!(matches!(decode(&e), Ok(Event::Link { seq: 1, .. })));
}

#[test]
fn info_and_error_frames_decode() {
    let e = decode(&msg(
        Some("#info"),
        1,
        json!({"name": "OutdatedCursor", "message": "too old"}),
    ))
    .unwrap();
    assert_eq!(
        e,
        Event::Info {
            name: "OutdatedCursor".into(),
            message: Some("too old".into())
        }
    );
    let e = decode(&msg(None, -1, json!({"error": "ConsumerTooSlow"}))).unwrap();
    assert_eq!(
        e,
        Event::Error {
            error: "ConsumerTooSlow".into(),
            message: None
        }
    );
}

#[test]
fn untrusted_input_is_refused_with_its_reason_never_a_panic() {
    let bad = |bytes: &[u8]| decode(bytes).unwrap_err().label();
    assert_eq!(bad(&link(1, "teleported", "did:plc:abc")), "unknown_kind");
    assert_eq!(bad(&link(1, "created", "not a did")), "bad_did");
    assert_eq!(bad(&link(1, "created", "did:plc:")), "bad_did");
    assert_eq!(bad(&link(-5, "created", "did:plc:abc")), "bad_seq");
    assert_eq!(bad(&msg(Some("#commit"), 1, json!({}))), "unknown_type");
    assert_eq!(bad(&msg(None, 1, json!({}))), "header");
    assert_eq!(bad(&msg(None, 7, json!({}))), "header");
    // Wrong field types, a missing body, trailing bytes, garbage.
    assert_eq!(
        bad(&msg(
            Some("#link"),
            1,
            json!({"seq": "1", "kind": "created", "did": "did:plc:abc"})
        )),
        "cbor"
    );
    let header_only = serde_ipld_dagcbor::to_vec(&json!({"op": 1, "t": "#link"})).unwrap();
    assert_eq!(bad(&header_only), "cbor");
    let mut trailing = link(1, "created", "did:plc:abc");
    trailing.push(0);
    assert_eq!(bad(&trailing), "cbor");
    assert_eq!(bad(&[0xff, 0x00, 0x13]), "cbor");
    assert_eq!(bad(&[]), "cbor");
    // A huge DID is refused by the syntax check and cut short in the error.
    let long = format!("did:plc:{}", "a".repeat(10_000));
    let e = decode(&link(1, "created", &long)).unwrap_err();
    assert!(
        matches!(&e, WireError::BadDid(d) if d.len() <= 256),
        "{e:?}"
    );
}

#[test]
fn truncations_of_a_valid_frame_never_panic() {
    let good = link(7, "verified", "did:plc:abc");
    for n in 0..good.len() {
        assert!(decode(&good[..n]).is_err());
    }
}
