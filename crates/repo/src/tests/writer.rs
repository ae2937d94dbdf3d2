//! The repo writer: every commit it signs verifies and inverts to its `prevData`, proofs
//! prove, and refused writes say why and change nothing.

use crate::cbor::Encoder;
use crate::{
    CarLimits, CarSlice, Curve, Mst, OpAction, PrivateKey, RepoWriter, Write, WriteError,
    verify_commit, verify_record_proof,
};

const DID: &str = "did:plc:writer";

fn record(n: u64) -> Vec<u8> {
    let mut e = Encoder::new();
    e.map(1).text("n").uint(n);
    e.into_bytes()
}

fn put(path: &str, n: u64) -> Write {
    Write::Put {
        path: path.into(),
        block: record(n),
    }
}

fn rev(n: u64) -> String {
    syntax::Tid::from_parts(1_780_000_000_000_000 + n, 0).to_string()
}

#[test]
fn every_commit_verifies_and_inverts_to_the_tree_before_it() {
    let key = PrivateKey::generate(Curve::K256);
    let pk = key.public_key();
    let mut w = RepoWriter::new(DID);
    w.preload((0..200).map(|i| (format!("app.bsky.feed.like/3l{i:011}"), record(i))));
    let batches = [
        vec![
            put("org.xmtp.inbox/self", 1),
            put("app.bsky.feed.like/3lzzzzzzzzzzz", 2),
        ],
        vec![put("org.xmtp.inbox/self", 3)],
        vec![Write::Delete {
            path: "app.bsky.feed.like/3l00000000007".into(),
        }],
        vec![],
    ];
    let mut since = None;
    for (n, writes) in batches.iter().enumerate() {
        let diff = w.commit(writes, &key, rev(n as u64)).unwrap();
        assert_eq!(diff.since, since, "since names the previous commit");
        since = Some(diff.rev.clone());
        let v = verify_commit(&diff.blocks, &diff.commit, DID, &diff.rev, &pk).unwrap();
        let ops: Vec<_> = diff.ops.iter().map(|op| op.as_mst_op()).collect();
        v.invert(&ops, &diff.prev_data).unwrap();
        // Each block once.
        let car = CarSlice::parse(&diff.blocks, &CarLimits::COMMIT).unwrap();
        let mut cids: Vec<_> = car.blocks().map(|(cid, _)| *cid).collect();
        let all = cids.len();
        cids.sort();
        cids.dedup();
        assert_eq!(cids.len(), all, "a block twice in commit {n}");
    }
}

#[test]
fn ops_say_create_update_delete_with_prev() {
    let key = PrivateKey::generate(Curve::K256);
    let mut w = RepoWriter::new(DID);
    let first = w
        .commit(&[put("org.xmtp.inbox/self", 1)], &key, rev(1))
        .unwrap();
    assert_eq!(first.since, None);
    assert_eq!(first.prev_data, crate::mst::empty_root());
    assert_eq!(first.ops[0].action, OpAction::Create);
    assert_eq!(first.ops[0].prev, None);
    let second = w
        .commit(&[put("org.xmtp.inbox/self", 2)], &key, rev(2))
        .unwrap();
    assert_eq!(second.ops[0].action, OpAction::Update);
    assert_eq!(second.ops[0].prev, first.ops[0].cid);
    let third = w
        .commit(
            &[Write::Delete {
                path: "org.xmtp.inbox/self".into(),
            }],
            &key,
            rev(3),
        )
        .unwrap();
    assert_eq!(third.ops[0].action, OpAction::Delete);
    assert_eq!(
        (third.ops[0].cid, third.ops[0].prev),
        (None, second.ops[0].cid)
    );
    assert_eq!(w.record("org.xmtp.inbox/self"), None);
}

#[test]
fn refused_writes_name_their_reason_and_change_nothing() {
    let key = PrivateKey::generate(Curve::K256);
    let mut w = RepoWriter::new(DID);
    w.commit(&[put("org.xmtp.inbox/self", 1)], &key, rev(1))
        .unwrap();
    let head = w.head().cloned();
    let create = Write::Create {
        path: "org.xmtp.inbox/self".into(),
        block: record(2),
    };
    let cases = [
        (
            vec![create],
            WriteError::Exists("org.xmtp.inbox/self".into()),
        ),
        (
            vec![Write::Update {
                path: "org.xmtp.inbox/other".into(),
                block: record(2),
            }],
            WriteError::NotFound("org.xmtp.inbox/other".into()),
        ),
        (
            vec![put("a.b.c/x", 1), put("a.b.c/x", 2)],
            WriteError::WrittenTwice("a.b.c/x".into()),
        ),
        (
            vec![put("a.b.c/ok", 1), put("not a path", 2)],
            WriteError::InvalidPath("not a path".into()),
        ),
    ];
    for (writes, want) in cases {
        assert_eq!(w.commit(&writes, &key, rev(2)).unwrap_err(), want);
        assert_eq!(w.head().cloned(), head, "head moved after {want}");
        assert_eq!(w.record("a.b.c/ok"), None, "record kept after {want}");
        assert_eq!(
            w.record("org.xmtp.inbox/self").map(|r| r.block.clone()),
            Some(record(1))
        );
    }
}

#[test]
fn proofs_prove_presence_and_absence_and_the_full_car_holds_the_tree() {
    let key = PrivateKey::generate(Curve::K256);
    let pk = key.public_key();
    let mut w = RepoWriter::new(DID);
    assert_eq!(w.record_proof("org.xmtp.inbox/self"), None, "no commit yet");
    w.preload((0..100).map(|i| (format!("app.bsky.feed.like/3l{i:011}"), record(i))));
    let diff = w
        .commit(&[put("org.xmtp.inbox/self", 7)], &key, rev(1))
        .unwrap();
    let car = w.record_proof("org.xmtp.inbox/self").unwrap();
    let proof = verify_record_proof(&car, DID, "org.xmtp.inbox", "self", &pk).unwrap();
    assert_eq!(proof.record.map(|(_, b)| b.to_vec()), Some(record(7)));
    let car = w.record_proof("org.xmtp.inbox/other").unwrap();
    let proof = verify_record_proof(&car, DID, "org.xmtp.inbox", "other", &pk).unwrap();
    assert_eq!(proof.record, None);

    let full = w.full_car().unwrap();
    let slice = CarSlice::parse(&full, &CarLimits::REPO).unwrap();
    let commit = crate::Commit::decode(slice.get(&diff.commit).unwrap()).unwrap();
    let blocks: std::collections::HashMap<_, _> = slice
        .blocks()
        .map(|(cid, bytes)| (*cid, bytes.to_vec()))
        .collect();
    let tree = Mst::load_all(commit.data, &blocks).unwrap();
    assert_eq!(tree.entries().len(), 101);
    for (_, cid) in tree.entries() {
        assert!(blocks.contains_key(&cid), "record {cid} missing");
    }
}
