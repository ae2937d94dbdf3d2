//! Every relayed commit verifies; forged commits are rejected and the chain continues.
use std::collections::BTreeSet;

use devnet::atmosphere::{Forgery, Write};
use devnet::world::{INBOX_COLLECTION, INBOX_RKEY};
use repo::{CarLimits, CarSlice};
use serde_json::json;
use wire::frame::Frame;

use crate::support::*;

#[tokio::test]
async fn every_relayed_commit_verifies_and_inverts_to_prev_data() {
    let devnet = devnet().await;
    let alice = devnet.create_user("alice").unwrap();
    let bob = devnet.create_user("bob").unwrap();
    devnet.emit_noise(60).unwrap();
    devnet.link_inbox(&alice.did).unwrap();
    devnet.forge_link(&bob.did).unwrap();
    let profile = |name: &str| json!({"$type": "app.bsky.actor.profile", "displayName": name});
    devnet
        .update_record(&alice.did, "app.bsky.actor.profile", "self", profile("A"))
        .unwrap();
    devnet
        .update_record(&alice.did, "app.bsky.actor.profile", "self", profile("B"))
        .unwrap();
    devnet.link_inbox(&alice.did).unwrap(); // an update of org.xmtp.inbox/self
    devnet
        .delete_record(&bob.did, INBOX_COLLECTION, INBOX_RKEY)
        .unwrap();

    let mut checked = Checked::default();
    let mut socket = connect(&devnet, Some(0)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    check_stream(&devnet, &frames, &mut checked).await;

    // After a key rotation, later commits verify with the new key of the PLC document.
    let before_rotation = devnet.relay().current_seq();
    devnet.pds().rotate_key(&bob.did).unwrap();
    devnet.emit_noise(20).unwrap();
    let mut socket = connect(&devnet, Some(before_rotation)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    check_stream(&devnet, &frames, &mut checked).await;

    // 2 genesis + 80 noise + 2 links + 2 profile writes + relink + delete + empty rotation commit.
    assert_eq!(checked.commits, 89);
    assert_eq!(
        checked.actions,
        BTreeSet::from([
            "create".to_owned(),
            "delete".to_owned(),
            "update".to_owned()
        ])
    );
}

#[tokio::test]
async fn every_forgery_is_rejected_and_the_chain_continues() {
    let devnet = devnet().await;
    let user = devnet.create_user("forger").unwrap();
    devnet.emit_noise(10).unwrap();
    let key = signing_key(&devnet, &user.did).await;
    let start = devnet.relay().current_seq();
    let forgeries = [
        Forgery::WrongSigningKey,
        Forgery::WrongPrevData,
        Forgery::CorruptRecordBlock,
        Forgery::MissingRecordBlock,
        Forgery::MissingMstNodes,
    ];
    for forgery in forgeries {
        let writes = [Write::Create {
            path: "org.xmtp.inbox/self".to_owned(),
            value: json!({"$type": "org.xmtp.inbox", "id": "forged", "verificationSignature": "AA==", "createdAt": "2026-01-01T00:00:00Z"}),
        }];
        devnet
            .pds()
            .publish_forged_commit(&user.did, &writes, forgery)
            .unwrap();
    }
    let genuine = devnet.emit_noise(1).unwrap();
    let mut socket = connect(&devnet, Some(start)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    assert_eq!(frames.len(), forgeries.len() + 1);
    for (frame, forgery) in frames.iter().zip(forgeries) {
        let Frame::Commit(commit) = frame else {
            panic!("expected a commit")
        };
        let verdict = match forgery {
            // A corrupt block already fails the CAR's hash check.
            Forgery::CorruptRecordBlock => CarSlice::parse(&commit.blocks, &CarLimits::COMMIT)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            _ => check_commit(commit, &key),
        };
        assert!(verdict.is_err(), "{forgery:?} was accepted");
    }
    let Frame::Commit(last) = frames.last().unwrap() else {
        panic!("expected the genuine commit")
    };
    assert_eq!(last.seq, genuine[0].seq);
    let key = signing_key(&devnet, &last.repo).await;
    verify_commit(last, &key);
    assert!(
        devnet
            .pds()
            .record(&user.did, INBOX_COLLECTION, INBOX_RKEY)
            .unwrap()
            .is_none()
    );
}

/// Random multi-op commits (creates, updates, deletes mixed) over a repo of a few hundred
/// records: every diff must be complete enough to invert.
#[tokio::test]
async fn random_multi_op_commits_invert() {
    use rand::Rng;
    let devnet = devnet().await;
    let user = devnet.create_user("multi").unwrap();
    let mut rng = rand::rng();
    let mut present: Vec<String> = Vec::new();
    let start = devnet.relay().current_seq();
    for round in 0..60 {
        let mut writes = Vec::new();
        let mut touched = BTreeSet::new();
        for n in 0..rng.random_range(1..12) {
            let value = json!({"$type": "app.bsky.feed.post", "text": format!("{round}/{n}")});
            match rng.random_range(0..4) {
                0 | 1 => {
                    let path = format!("app.bsky.feed.post/r{round:03}n{n:02}");
                    touched.insert(path.clone());
                    present.push(path.clone());
                    writes.push(Write::Create { path, value });
                }
                2 if !present.is_empty() => {
                    let path = present[rng.random_range(0..present.len())].clone();
                    if touched.insert(path.clone()) {
                        writes.push(Write::Update { path, value });
                    }
                }
                _ if !present.is_empty() => {
                    let path = present.swap_remove(rng.random_range(0..present.len()));
                    if touched.insert(path.clone()) {
                        writes.push(Write::Delete { path });
                    } else {
                        present.push(path);
                    }
                }
                _ => {}
            }
        }
        // `touched` keeps each path to one write per commit, as the spec requires.
        devnet.pds().apply_writes(&user.did, &writes).unwrap();
    }
    let key = signing_key(&devnet, &user.did).await;
    let mut socket = connect(&devnet, Some(start)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    assert_eq!(frames.len(), 60);
    for frame in &frames {
        let Frame::Commit(commit) = frame else {
            panic!("expected commits only")
        };
        verify_commit(commit, &key);
    }
}
