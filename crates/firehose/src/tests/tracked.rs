//! The tracked DIDs without a set of strings: a filter streamed from the index at start-up,
//! the index probed behind it, and the DIDs tracked since in memory. Every DID the index
//! tracks is recognised (did:plc, whose key the index packs into 16 bytes, and did:web,
//! stored as text), a DID tracked at runtime joins, and a stranger's commit is dropped.

use std::sync::Arc;

use bytes::Bytes;

use super::support::*;
use crate::frame::Frame;
use crate::gate::Verdict;
use crate::tracked::{Filter, TrackedSet};
use store::{Batch, Change};
use sync::StaticIdentity;
use testkit::atproto::SynthRepo;

const PLC: &str = "did:plc:plc2345plc2345plc2345plc2";
const WEB: &str = "did:web:alice.example.com";
const STATE_ONLY: &str = "did:plc:state2345state2345state23";
const STRANGER: &str = "did:plc:stranger2345stranger23456";
const WEB_STRANGER: &str = "did:web:bob.example.com";

fn repo_state(did: &str) -> Change {
    Change::RepoState {
        did: testkit::ids::did(did),
        rev: syntax::Tid::parse("3kaaaaaaaaaa2").unwrap(),
        data_cid: testkit::ids::cid("data"),
        commit_cid: testkit::ids::cid("commit"),
    }
}

/// A signed commit of `did` that does not touch `org.xmtp.inbox`, as wire bytes.
fn like_commit(did: &str, seq: i64) -> Bytes {
    let key = repo::PrivateKey::generate(repo::Curve::K256);
    let mut r = SynthRepo::new(did, key, 1_780_000_000_000_000);
    Bytes::from(Frame::Commit(r.commit(seq, &[like(seq as u32)])).encode())
}

async fn indexed_store() -> (tempfile::TempDir, store::Store) {
    let (dir, store) = temp_store();
    store
        .writer()
        .apply(Batch::of(vec![
            put_link(PLC),
            put_link(WEB),
            repo_state(STATE_ONLY),
        ]))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_loaded_set_recognises_plc_and_web_dids_of_the_index_and_nothing_else() {
    let (_dir, store) = indexed_store().await;
    let set = TrackedSet::load(&store.reader()).await.unwrap();
    assert_eq!(set.loaded(), 3, "two links and one repo state streamed");
    assert!(set.filter_bytes() > 0);
    for did in [PLC, WEB, STATE_ONLY] {
        assert!(set.contains(did), "{did} is tracked by the index");
    }
    for did in [STRANGER, WEB_STRANGER, "did:plc:", ""] {
        assert!(!set.contains(did), "{did} is not");
    }
    assert_eq!(set.added(), 0, "nothing held in memory for the loaded DIDs");
}

#[tokio::test]
async fn the_gate_forwards_commits_of_tracked_plc_and_web_dids_and_drops_strangers() {
    let (_dir, store) = indexed_store().await;
    let (mut gate, _p, _rx, _) = stages_restarted(&store, Arc::new(StaticIdentity::new())).await;
    for (seq, did) in [(1, PLC), (2, WEB), (3, STATE_ONLY)] {
        assert!(
            matches!(gate.on_message(like_commit(did, seq)), Verdict::Forward(_)),
            "a commit of tracked {did} was dropped"
        );
    }
    for (seq, did) in [(4, STRANGER), (5, WEB_STRANGER)] {
        assert_eq!(
            gate.on_message(like_commit(did, seq)),
            Verdict::Dropped("irrelevant"),
            "{did} is not tracked"
        );
    }
}

#[tokio::test]
async fn a_did_tracked_at_runtime_joins_the_set() {
    let (_dir, store) = indexed_store().await;
    let (mut gate, _p, _rx, tracked) =
        stages_restarted(&store, Arc::new(StaticIdentity::new())).await;
    assert_eq!(
        gate.on_message(like_commit(STRANGER, 1)),
        Verdict::Dropped("irrelevant")
    );
    // Its first org.xmtp.inbox commit: forwarded, and the DID is tracked from then on,
    // before the index has heard of it.
    let key = repo::PrivateKey::generate(repo::Curve::K256);
    let mut r = SynthRepo::new(STRANGER, key, 1_780_000_000_000_000);
    let first = Frame::Commit(r.commit(2, &[put_inbox(&"b".repeat(64))])).encode();
    assert!(matches!(
        gate.on_message(Bytes::from(first)),
        Verdict::Forward(_)
    ));
    assert!(tracked.contains(STRANGER));
    assert_eq!(tracked.added(), 1);
    assert!(
        matches!(
            gate.on_message(like_commit(STRANGER, 3)),
            Verdict::Forward(_)
        ),
        "the next commit of a newly tracked DID was dropped"
    );
    // A did:web the same way, through the set's own insert (the processor's path).
    assert!(!tracked.contains(WEB_STRANGER));
    tracked.insert(WEB_STRANGER);
    assert!(tracked.contains(WEB_STRANGER));
    // A DID the index already tracks is not stored again.
    tracked.insert(PLC);
    tracked.insert(WEB);
    assert_eq!(tracked.added(), 2);
}

#[tokio::test]
async fn an_empty_index_loads_an_empty_set_that_still_learns() {
    let (_dir, store) = temp_store();
    let set = TrackedSet::load(&store.reader()).await.unwrap();
    assert_eq!((set.loaded(), set.filter_bytes()), (0, 0));
    assert!(!set.contains(PLC));
    set.insert(PLC);
    assert!(set.contains(PLC));
}

#[test]
fn the_filter_keeps_every_did_it_was_given_and_lets_few_others_through() {
    const N: u64 = 100_000;
    let mut f = Filter::with_capacity(N);
    let did = |i: u64| format!("did:plc:{i:024}");
    for i in 0..N {
        f.insert(&did(i));
    }
    assert!((0..N).all(|i| f.may_contain(&did(i))), "a DID was lost");
    let passed = (N..N * 11).filter(|&i| f.may_contain(&did(i))).count();
    let rate = passed as f64 / (N * 10) as f64;
    // 12 bits per DID: ~0.5% (each one costs an index probe, a few microseconds).
    assert!(rate < 0.01, "false positive rate {rate}");
    assert_eq!(f.bytes() as u64, (N * 12).div_ceil(256) * 32);
}
