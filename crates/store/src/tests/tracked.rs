//! The reads behind the firehose's tracked-DID filter and takeover check: the streaming
//! walk of every tracked DID and the exact probes.

use super::*;

const WEB: &str = "did:web:alice.example.com";

fn repo_state(did: &str) -> Change {
    Change::RepoState {
        did: d(did),
        rev: rev("3kaaaaaaaaaa2"),
        data_cid: cid("d"),
        commit_cid: cid("c"),
    }
}

#[tokio::test]
async fn the_walk_streams_every_tracked_did_and_the_probe_agrees() {
    let db = Db::new();
    // did(1): link and repo state; did(2): link only; did(3): repo state only; did(4): a
    // handle, which is not tracking. A did:web link is stored as text, not a packed key.
    db.apply(vec![
        put(&did(1), "c", &inbox(1), Some("3kaaaaaaaaaa2")),
        repo_state(&did(1)),
        put(&did(2), "c", &inbox(2), None),
        repo_state(&did(3)),
        handle(&did(4), Some("d.test")),
        put(WEB, "c", &inbox(5), None),
    ])
    .await;
    let r = db.r();
    let (bound, mut seen) = r
        .fold_tracked_dids(
            |bound| (bound, Vec::new()),
            |(_, v), did| v.push(did.to_owned()),
        )
        .await
        .unwrap();
    assert!(bound >= seen.len() as u64, "the bound is an upper bound");
    seen.sort();
    seen.dedup();
    assert_eq!(seen, r.tracked_dids().await.unwrap());
    assert_eq!(seen, vec![did(1), did(2), did(3), d(WEB)]);
    for d in &seen {
        assert!(r.tracks_did(d).unwrap(), "{d}");
    }
    for other in [did(4), did(5), d("did:web:bob.example.com")] {
        assert!(!r.tracks_did(&other).unwrap(), "{other}");
    }
}

#[tokio::test]
async fn a_handle_is_held_whatever_its_case_and_its_holder_s_status() {
    let db = Db::new();
    db.apply(vec![
        handle(&did(1), Some("a.test")),
        handle(&did(2), Some("b.test")),
        account(&did(2), false, Some("deactivated")),
    ])
    .await;
    let r = db.r();
    assert!(r.holds_handle("A.Test").unwrap());
    assert!(
        r.holds_handle("b.test").unwrap(),
        "held by a deactivated account"
    );
    assert!(!r.holds_handle("c.test").unwrap());
}
