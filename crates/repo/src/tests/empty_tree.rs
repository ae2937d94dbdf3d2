//! Proof sets around empty trees: the empty root node has no node in the in-memory tree,
//! yet every consumer loads the root block first, so every proof set must carry it.

use crate::car::write_car;
use crate::cid_util::cid_for_cbor;
use crate::commit::Commit;
use crate::keys::{Curve, PrivateKey};
use crate::mst::{Mst, Op, OpAction, empty_root};
use crate::verify::{verify_commit, verify_record_proof};

/// A `#commit` CAR for the change `old` -> `new` by `ops`, signed with `key`.
fn commit_car(
    key: &PrivateKey,
    old: &mut Mst,
    new: &mut Mst,
    ops: &[Op<'_>],
    records: &[(cid::Cid, Vec<u8>)],
) -> (cid::Cid, Vec<u8>, Vec<cid::Cid>) {
    let mut commit = Commit::new_unsigned("did:plc:alice", new.root(), "3kaaaaaaaaaab");
    commit.sign(key);
    let (ccid, cblock) = commit.to_block_with_cid();
    let proof = new.commit_proof_blocks(old, ops).unwrap();
    let proof_cids = proof.iter().map(|(c, _)| *c).collect();
    let mut blocks = vec![(ccid, cblock)];
    blocks.extend(records.iter().cloned());
    blocks.extend(proof);
    let car = write_car(&[ccid], blocks.iter().map(|(c, b)| (c, b.as_slice())));
    (ccid, car, proof_cids)
}

#[test]
fn proof_of_absence_in_an_empty_tree_carries_the_root_and_verifies() {
    let key = PrivateKey::generate(Curve::K256);
    let mut mst = Mst::new();
    let proof = mst.proof_blocks("org.xmtp.inbox/self");
    assert_eq!(
        proof.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        vec![empty_root()]
    );

    let mut commit = Commit::new_unsigned("did:plc:alice", mst.root(), "3kaaaaaaaaaaa");
    commit.sign(&key);
    let (ccid, cblock) = commit.to_block_with_cid();
    let mut blocks = vec![(ccid, cblock)];
    blocks.extend(proof);
    let car = write_car(&[ccid], blocks.iter().map(|(c, b)| (c, b.as_slice())));
    let proof = verify_record_proof(
        &car,
        "did:plc:alice",
        "org.xmtp.inbox",
        "self",
        &key.public_key(),
    )
    .unwrap();
    assert_eq!(proof.record, None);
    assert_eq!(proof.commit_cid, ccid);
}

#[test]
fn commit_deleting_the_last_record_carries_the_root_and_inverts_to_prev_data() {
    let key = PrivateKey::generate(Curve::P256);
    let rcid = cid_for_cbor(&[1]);
    let mut old = Mst::new();
    old.insert("org.xmtp.inbox/self", rcid);
    let prev_data = old.root();
    let mut new = old.clone();
    new.delete("org.xmtp.inbox/self");
    assert_eq!(new.root(), empty_root());
    let ops = [Op {
        action: OpAction::Delete,
        path: "org.xmtp.inbox/self",
        cid: None,
        prev: Some(rcid),
    }];
    let (ccid, car, proof_cids) = commit_car(&key, &mut old, &mut new, &ops, &[]);
    assert!(proof_cids.contains(&empty_root()), "{proof_cids:?}");
    let v = verify_commit(
        &car,
        &ccid,
        "did:plc:alice",
        "3kaaaaaaaaaab",
        &key.public_key(),
    )
    .unwrap();
    v.invert(&ops, &prev_data).unwrap();
}

#[test]
fn first_commit_of_a_repo_inverts_to_the_empty_tree() {
    let key = PrivateKey::generate(Curve::K256);
    let record = vec![0xa0];
    let rcid = cid_for_cbor(&record);
    let mut old = Mst::new();
    let mut new = Mst::new();
    new.insert("org.xmtp.inbox/self", rcid);
    let ops = [Op {
        action: OpAction::Create,
        path: "org.xmtp.inbox/self",
        cid: Some(rcid),
        prev: None,
    }];
    let (ccid, car, proof_cids) =
        commit_car(&key, &mut old, &mut new, &ops, &[(rcid, record.clone())]);
    assert!(proof_cids.contains(&new.root()), "{proof_cids:?}");
    let v = verify_commit(
        &car,
        &ccid,
        "did:plc:alice",
        "3kaaaaaaaaaab",
        &key.public_key(),
    )
    .unwrap();
    v.invert(&ops, &empty_root()).unwrap();
    assert_eq!(v.block(&rcid), Some(record.as_slice()));
}

#[test]
fn first_commit_without_records_carries_the_empty_root() {
    let key = PrivateKey::generate(Curve::P256);
    let (mut old, mut new) = (Mst::new(), Mst::new());
    let (ccid, car, proof_cids) = commit_car(&key, &mut old, &mut new, &[], &[]);
    assert_eq!(proof_cids, vec![empty_root()]);
    let v = verify_commit(
        &car,
        &ccid,
        "did:plc:alice",
        "3kaaaaaaaaaab",
        &key.public_key(),
    )
    .unwrap();
    v.invert(&[], &empty_root()).unwrap();
}
