//! Round trips of every frame type through the canonical encoder and the decoder, plus
//! the byte examples from the sync spec.

use cid::Cid;

use super::*;
use crate::filter::{FrameKind, peek};

fn cid_of(n: u8) -> Cid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest([n]);
    let mh = cid::multihash::Multihash::<64>::wrap(0x12, &digest).unwrap();
    Cid::new_v1(0x71, mh)
}

fn sample_commit(seq: i64, path: &str) -> Commit {
    Commit {
        seq,
        repo: "did:plc:44ybard66vv44zksje25o7dz".into(),
        rev: "3lmxjza3nva27".into(),
        since: Some("3lmxjxi3hjn23".into()),
        commit: cid_of(1),
        blocks: vec![1, 2, 3, 4],
        ops: vec![
            RepoOp {
                action: "create".into(),
                path: path.into(),
                cid: Some(cid_of(2)),
                prev: None,
            },
            RepoOp {
                action: "delete".into(),
                path: "app.bsky.feed.like/3lmxjza3h2i27".into(),
                cid: None,
                prev: Some(cid_of(3)),
            },
        ],
        prev_data: Some(cid_of(4)),
        time: "2025-04-16T21:30:26.717Z".into(),
        blobs: vec![],
        too_big: false,
        rebase: false,
    }
}

fn all_frames() -> Vec<Frame> {
    let mut legacy = sample_commit(8, "app.bsky.feed.post/3lmxjzlexp22k");
    legacy.prev_data = None;
    legacy.since = None;
    vec![
        Frame::Commit(sample_commit(7, "org.xmtp.inbox/self")),
        Frame::Commit(legacy),
        Frame::Sync(SyncEvent {
            seq: 9,
            did: "did:plc:a".into(),
            rev: "3lmxrbvasth2t".into(),
            blocks: vec![9; 40],
            time: "2025-04-16T23:40:33.897Z".into(),
        }),
        Frame::Identity(IdentityEvent {
            seq: 10,
            did: "did:plc:a".into(),
            time: "t".into(),
            handle: Some("alice.test".into()),
        }),
        Frame::Identity(IdentityEvent {
            seq: 11,
            did: "did:plc:a".into(),
            time: "t".into(),
            handle: None,
        }),
        Frame::Account(AccountEvent {
            seq: 12,
            did: "did:plc:a".into(),
            time: "t".into(),
            active: false,
            status: Some("deactivated".into()),
        }),
        Frame::Account(AccountEvent {
            seq: 13,
            did: "did:plc:a".into(),
            time: "t".into(),
            active: true,
            status: None,
        }),
        Frame::Info(InfoEvent {
            name: "OutdatedCursor".into(),
            message: Some("too old".into()),
        }),
        Frame::Handle(HandleEvent {
            seq: 14,
            did: "did:plc:a".into(),
            handle: "a.test".into(),
            time: "t".into(),
        }),
        Frame::Migrate(MigrateEvent {
            seq: 15,
            did: "did:plc:a".into(),
            migrate_to: None,
            time: "t".into(),
        }),
        Frame::Tombstone(TombstoneEvent {
            seq: 16,
            did: "did:plc:a".into(),
            time: "t".into(),
        }),
        Frame::Error(ErrorFrame {
            error: "FutureCursor".into(),
            message: Some("cursor in the future".into()),
        }),
        Frame::Unknown {
            op: 1,
            t: Some("#somethingNew".into()),
        },
        Frame::Unknown { op: 7, t: None },
    ]
}

#[test]
fn every_frame_type_round_trips_through_encode_and_decode() {
    let frames = all_frames();
    for f in &frames {
        let bytes = f.encode();
        assert_eq!(&Frame::decode(&bytes).unwrap(), f, "{f:?}");
    }
    assert_eq!(frames.len(), 14);
}

#[test]
fn commit_header_bytes_match_the_spec_example() {
    let bytes = all_frames()[0].encode();
    let hdr = [
        0xa2, 0x61, 0x74, 0x67, 0x23, 0x63, 0x6f, 0x6d, 0x6d, 0x69, 0x74, 0x62, 0x6f, 0x70, 0x01,
    ];
    assert_eq!(&bytes[..hdr.len()], &hdr);
    let err = encode_error(&ErrorFrame {
        error: "X".into(),
        message: None,
    });
    assert_eq!(&err[..5], &[0xa1, 0x62, 0x6f, 0x70, 0x20]);
}

#[test]
fn commit_body_keys_are_in_canonical_order() {
    let bytes = all_frames()[0].encode();
    let (_, mut r) = decode_header(&bytes).unwrap();
    let n = r.map_len().unwrap();
    let mut keys = Vec::new();
    for _ in 0..n {
        keys.push(r.str().unwrap());
        r.skip().unwrap();
    }
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| repo::cbor::canonical_key_cmp(a, b));
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 12);
    assert_eq!(keys[0], "ops");
}

#[test]
fn peek_agrees_with_full_decode_on_every_type() {
    for f in all_frames() {
        let bytes = f.encode();
        let p = peek(&bytes).unwrap();
        assert_eq!(p.seq, f.seq(), "{f:?}");
        assert_eq!(p.did.map(|d| d.as_str().unwrap()), f.did(), "{f:?}");
        if let Frame::Commit(c) = &f {
            assert_eq!(p.kind, FrameKind::Commit);
            assert_eq!(p.rev.map(|r| r.as_str().unwrap()), Some(c.rev.as_str()));
            assert_eq!(p.since.map(|s| s.as_str().unwrap()), c.since.as_deref());
            assert_eq!(p.n_ops as usize, c.ops.len());
            assert_eq!(
                p.touches_inbox,
                c.ops.iter().any(|o| o.path.starts_with("org.xmtp.inbox/"))
            );
        }
    }
}

#[test]
fn trailing_bytes_are_a_fatal_error() {
    let mut bytes = all_frames()[3].encode();
    bytes.push(0);
    let e = Frame::decode(&bytes).unwrap_err();
    assert!(e.is_fatal(), "{e}");
    assert!(peek(&bytes).unwrap_err().is_fatal());
}

#[test]
fn missing_required_field_is_not_fatal() {
    let mut w = repo::cbor::Encoder::new();
    w.map(2).text("t").text("#account").text("op").int(1);
    w.map(2).text("did").text("did:plc:a").text("seq").int(3);
    let out = w.into_bytes();
    let e = Frame::decode(&out).unwrap_err();
    assert_eq!(
        e,
        FrameError::Missing {
            kind: "#account",
            field: "active"
        }
    );
    assert!(!e.is_fatal());
}

#[test]
fn wrong_typed_field_is_not_fatal_and_unknown_fields_are_ignored() {
    let mut w = repo::cbor::Encoder::new();
    w.map(2).text("t").text("#identity").text("op").int(1);
    w.map(4)
        .text("did")
        .text("did:plc:a")
        .text("seq")
        .text("nope")
        .text("zzz")
        .array(1)
        .int(1)
        .text("time")
        .text("t");
    let out = w.into_bytes();
    let e = Frame::decode(&out).unwrap_err();
    assert!(!e.is_fatal(), "{e}");
    assert!(!peek(&out).unwrap_err().is_fatal());
}

#[test]
fn unknown_type_is_ignored_not_an_error() {
    let bytes = Frame::Unknown {
        op: 1,
        t: Some("#labels".into()),
    }
    .encode();
    assert!(matches!(
        Frame::decode(&bytes).unwrap(),
        Frame::Unknown { .. }
    ));
    assert_eq!(peek(&bytes).unwrap().kind, FrameKind::Unknown);
}
