//! Every `Change` variant, applied through the writer and read back.

use super::*;

#[tokio::test]
async fn put_record_creates_a_pending_link_with_the_full_view() {
    let db = Db::new();
    db.apply(vec![put(&did(1), "bafy1", &inbox(1), None)]).await;
    let link = db.r().link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.did, did(1));
    assert_eq!(link.status, Status::Pending);
    assert_eq!(link.inbox_id, inbox(1));
    assert_eq!(link.handle, None);
    assert_eq!(link.reason, None);
    assert_eq!(
        link.record.uri,
        format!("at://{}/org.xmtp.inbox/self", did(1))
    );
    assert_eq!(link.record.cid, cid("bafy1"));
    assert_eq!(link.record.verification_signature, "c2lnbmF0dXJl");
    assert_eq!(link.record.created_at, "2026-01-01T00:00:00.000Z");
    assert_eq!(link.installation_key, None);
    assert_eq!(link.verified_at, None);
    assert!(syntax::Datetime::parse(&link.indexed_at).is_ok());
    let json = serde_json::to_value(&link).unwrap();
    for key in [
        "did",
        "handle",
        "inboxId",
        "status",
        "reason",
        "record",
        "installationKey",
        "verifiedAt",
        "indexedAt",
    ] {
        assert!(json.get(key).is_some(), "link view lacks {key}: {json}");
    }
    assert_eq!(json["status"], "pending");
    assert_eq!(json["record"]["verificationSignature"], "c2lnbmF0dXJl");
}

#[tokio::test]
async fn put_record_with_the_stored_cid_is_a_noop() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy1", &inbox(1), None),
        verdict(&did(1), "bafy1", Status::Verified),
        put(&did(1), "bafy1", &inbox(1), None),
    ])
    .await;
    assert_eq!(db.status_of(&did(1)).await, Some(Status::Verified));
}

#[tokio::test]
async fn put_record_with_a_new_cid_resets_the_link_to_pending() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy1", &inbox(1), None),
        verdict(&did(1), "bafy1", Status::Verified),
        put(&did(1), "bafy2", &inbox(2), None),
    ])
    .await;
    let link = db.r().link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.status, Status::Pending);
    assert_eq!(link.record.cid, cid("bafy2"));
    assert_eq!(link.inbox_id, inbox(2));
    assert_eq!(link.installation_key, None);
    assert_eq!(link.verified_at, None);
    assert!(
        db.r()
            .links_by_inbox(&inbox(1), true, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn malformed_record_is_kept_invalid_with_its_reason() {
    let db = Db::new();
    let mut rec = record("bafyx", "");
    rec.malformed = Some("missing id".to_owned());
    db.apply(vec![Change::PutRecord {
        did: did(1),
        rev: None,
        record: rec,
    }])
    .await;
    let link = db.r().link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.status, Status::Invalid);
    assert_eq!(link.reason.as_deref(), Some("missing id"));
    assert_eq!(db.r().counts().await.unwrap().invalid, 1);
}

#[tokio::test]
async fn newer_rev_wins_whatever_the_arrival_order() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy-new", &inbox(2), Some("3kaaaaaaaaab2")),
        put(&did(1), "bafy-old", &inbox(1), Some("3kaaaaaaaaaa2")),
        Change::DeleteRecord {
            did: did(1),
            rev: Some(rev("3kaaaaaaaaaa3")),
        },
    ])
    .await;
    let link = db.r().link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.record.cid, cid("bafy-new"));
    assert_eq!(
        db.r().repo_rev(&did(1)).await.unwrap().as_deref(),
        Some("3kaaaaaaaaab2")
    );
    // A delete with a newer rev removes it; a put older than that delete stays out.
    db.apply(vec![
        Change::DeleteRecord {
            did: did(1),
            rev: Some(rev("3kaaaaaaaaac2")),
        },
        put(&did(1), "bafy-mid", &inbox(3), Some("3kaaaaaaaaab3")),
    ])
    .await;
    assert_eq!(db.r().link_by_did(&did(1)).await.unwrap(), None);
}

#[tokio::test]
async fn delete_record_removes_the_link_and_unknown_deletes_are_noops() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy1", &inbox(1), None),
        Change::DeleteRecord {
            did: did(2),
            rev: None,
        },
    ])
    .await;
    assert!(db.r().link_by_did(&did(1)).await.unwrap().is_some());
    db.apply(vec![Change::DeleteRecord {
        did: did(1),
        rev: None,
    }])
    .await;
    assert_eq!(db.r().link_by_did(&did(1)).await.unwrap(), None);
    assert_eq!(db.r().counts().await.unwrap(), Counts::default());
}

#[tokio::test]
async fn inactive_account_is_hidden_from_every_query_until_reactivated() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy1", &inbox(1), None),
        verdict(&did(1), "bafy1", Status::Verified),
        handle(&did(1), Some("alice.test")),
        account(&did(1), false, Some("takendown")),
    ])
    .await;
    let r = db.r();
    assert_eq!(r.link_by_did(&did(1)).await.unwrap(), None);
    assert!(
        r.links_by_dids(vec![did(1).into()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        r.links_by_inbox(&inbox(1), true, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(r.list_links(None, None, 10).await.unwrap().0.is_empty());
    assert_eq!(r.did_by_handle("alice.test").await.unwrap(), None);
    assert!(!r.actor_known(&did(1)).await.unwrap());
    assert_eq!(r.counts().await.unwrap(), Counts::default());

    db.apply(vec![account(&did(1), true, None)]).await;
    assert_eq!(db.status_of(&did(1)).await, Some(Status::Verified));
    assert_eq!(r.counts().await.unwrap().verified, 1);
    assert_eq!(r.did_by_handle("alice.test").await.unwrap(), Some(did(1)));
}

#[tokio::test]
async fn a_record_of_an_inactive_account_enters_hidden() {
    let db = Db::new();
    db.apply(vec![
        account(&did(1), false, Some("deactivated")),
        put(&did(1), "bafy1", &inbox(1), None),
    ])
    .await;
    assert_eq!(db.r().link_by_did(&did(1)).await.unwrap(), None);
    assert_eq!(db.r().counts().await.unwrap(), Counts::default());
}

#[tokio::test]
async fn deleted_account_loses_its_link_handle_and_state() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy1", &inbox(1), Some("3kaaaaaaaaaa2")),
        handle(&did(1), Some("alice.test")),
        account(&did(1), true, None),
        account(&did(1), false, Some("deleted")),
    ])
    .await;
    let r = db.r();
    assert_eq!(r.link_by_did(&did(1)).await.unwrap(), None);
    assert_eq!(r.did_by_handle("alice.test").await.unwrap(), None);
    assert!(!r.actor_known(&did(1)).await.unwrap());
    assert_eq!(r.counts().await.unwrap(), Counts::default());
    // A rev floor at the deletion time stays, so a replayed older commit cannot bring the
    // link back (before: the repo state went too, and the replay was applied).
    let floor = r.repo_rev(&did(1)).await.unwrap().unwrap();
    assert!(floor.as_str() > "3kaaaaaaaaaa2", "{floor}");
    db.apply(vec![put(
        &did(1),
        "bafy1",
        &inbox(1),
        Some("3kaaaaaaaaaa3"),
    )])
    .await;
    assert_eq!(r.link_by_did(&did(1)).await.unwrap(), None);
}

fn desync(did: &str, reason: &str, rev: Option<&str>) -> Change {
    Change::Resync(ResyncChange::Desync {
        did: d(did),
        reason: reason.to_owned(),
        rev: rev.map(self::rev),
    })
}

#[tokio::test]
async fn resync_queue_keeps_every_row_until_a_resync_at_its_newest_rev_lands() {
    let db = Db::new();
    let r = db.r();
    db.apply(vec![
        desync(&did(1), "since", Some("3kaaaaaaaaaa2")),
        desync(&did(1), "desynchronized", Some("3kaaaaaaaaaa5")),
        desync(&did(1), "desynchronized", Some("3kaaaaaaaaaa3")),
        desync(&did(2), "no_key", None),
    ])
    .await;
    assert_eq!(r.resync_pending().await.unwrap(), 2);
    assert_eq!(r.desynchronized_dids().await.unwrap(), vec![did(1), did(2)]);
    let due = r.due_resyncs(i64::MAX, 10).await.unwrap().items;
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].reason, "since", "the first reason is kept");

    // A failure only postpones the row.
    db.apply(vec![Change::Resync(ResyncChange::Failed {
        did: did(2),
        error: "x".repeat(10_000),
        next_attempt: i64::MAX - 1,
    })])
    .await;
    let due = r.due_resyncs(i64::MAX - 2, 10).await.unwrap().items;
    assert_eq!(
        due.iter().map(|d| d.did.clone()).collect::<Vec<_>>(),
        vec![did(1)]
    );
    let row = &r.due_resyncs(i64::MAX, 10).await.unwrap().items[1];
    assert_eq!(
        (row.attempts, row.last_error.as_ref().map(|e| e.len())),
        (1, Some(256))
    );

    // A resync older than an event seen meanwhile keeps the row, due again.
    let landed = |at: &str| {
        Change::Resync(ResyncChange::Landed {
            did: did(1),
            rev: rev(at),
            retry_at: 0,
        })
    };
    db.apply(vec![landed("3kaaaaaaaaaa4")]).await;
    let due = r.due_resyncs(0, 10).await.unwrap().items;
    assert_eq!((due.len(), due[0].reason.as_str()), (1, "newer_event"));
    db.apply(vec![landed("3kaaaaaaaaaa5")]).await;
    assert_eq!(r.desynchronized_dids().await.unwrap(), vec![did(2)]);
    assert_eq!(
        r.resync_pending().await.unwrap(),
        1,
        "the count follows deletes"
    );

    // Waiting for a failing host postpones a row without counting an attempt.
    db.apply(vec![Change::Resync(ResyncChange::Postpone {
        did: did(2),
        until: 5,
    })])
    .await;
    let row = &r.due_resyncs(5, 10).await.unwrap().items[0];
    assert_eq!((row.did.clone(), row.attempts), (did(2), 1));
    assert!(r.due_resyncs(4, 10).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn handles_are_set_moved_and_cleared() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy1", &inbox(1), None),
        handle(&did(1), Some("Alice.Test")),
    ])
    .await;
    let r = db.r();
    assert_eq!(r.did_by_handle("alice.test").await.unwrap(), Some(did(1)));
    assert_eq!(r.did_by_handle("ALICE.test").await.unwrap(), Some(did(1)));
    let link = r.link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.handle.as_deref(), Some("alice.test"));
    assert!(r.actor_known(&did(1)).await.unwrap());

    // The handle now verifies to another DID: the old claim goes.
    db.apply(vec![handle(&did(2), Some("alice.test"))]).await;
    assert_eq!(r.did_by_handle("alice.test").await.unwrap(), Some(did(2)));
    let link = r.link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.handle, None);
    assert_eq!(
        r.dids_by_handles(vec!["alice.test".into(), "bob.test".into()])
            .await
            .unwrap(),
        vec![Some(did(2)), None]
    );

    db.apply(vec![handle(&did(2), None)]).await;
    assert_eq!(r.did_by_handle("alice.test").await.unwrap(), None);
}

#[tokio::test]
async fn repo_state_keeps_the_newest_rev() {
    let db = Db::new();
    let state = |at: &str, data: &str| Change::RepoState {
        did: did(1),
        rev: rev(at),
        data_cid: cid(data),
        commit_cid: cid(&format!("commit-{data}")),
    };
    let r = db.r();
    assert_eq!(r.repo_state(&did(1)).await.unwrap(), None);
    db.apply(vec![
        state("3kaaaaaaaaab2", "d2"),
        state("3kaaaaaaaaaa2", "d1"),
    ])
    .await;
    assert_eq!(
        r.repo_state(&did(1)).await.unwrap(),
        Some(RepoState {
            rev: rev("3kaaaaaaaaab2"),
            data_cid: cid("d2"),
            commit_cid: cid("commit-d2")
        })
    );
    // A rev bumped by a record change alone is not a full state.
    db.apply(vec![put(&did(2), "bafy", &inbox(2), Some("3kaaaaaaaaaa2"))])
        .await;
    assert_eq!(r.repo_state(&did(2)).await.unwrap(), None);
    assert_eq!(
        r.repo_rev(&did(2)).await.unwrap().as_deref(),
        Some("3kaaaaaaaaaa2")
    );
}

#[tokio::test]
async fn verdict_applies_only_to_the_record_it_was_about() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy2", &inbox(1), None),
        verdict(&did(1), "bafy1", Status::Verified),
    ])
    .await;
    assert_eq!(db.status_of(&did(1)).await, Some(Status::Pending));
    db.apply(vec![verdict(&did(1), "bafy2", Status::Verified)])
        .await;
    let link = db.r().link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.status, Status::Verified);
    assert_eq!(link.installation_key, Some("ab".repeat(32)));
    assert!(link.verified_at.is_some());
    db.apply(vec![verdict(&did(1), "bafy2", Status::Invalid)])
        .await;
    let link = db.r().link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.status, Status::Invalid);
    assert_eq!(link.reason.as_deref(), Some("bad signature"));
    assert_eq!(link.verified_at, None);
    assert_eq!(
        db.r().counts().await.unwrap(),
        Counts {
            verified: 0,
            pending: 0,
            invalid: 1
        }
    );
}

#[tokio::test]
async fn retry_later_holds_a_link_back_until_its_time() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "bafy1", &inbox(1), None),
        Change::RetryLater {
            did: did(1),
            record_cid: cid("bafy1"),
            not_before: 1_000,
        },
        // About an older record: ignored.
        Change::RetryLater {
            did: did(1),
            record_cid: cid("bafy0"),
            not_before: 5_000,
        },
    ])
    .await;
    let r = db.r();
    assert!(r.links_to_check(999, 0, 10).await.unwrap().is_empty());
    let due = r.links_to_check(1_000, 0, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(db.status_of(&did(1)).await, Some(Status::Pending));
}

#[tokio::test]
async fn links_to_check_offers_due_pending_then_stale_verified_links() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "c1", &inbox(1), None),
        put(&did(2), "c2", &inbox(2), None),
        verdict(&did(2), "c2", Status::Verified),
        put(&did(3), "c3", &inbox(3), None),
        verdict(&did(3), "c3", Status::Invalid),
    ])
    .await;
    let r = db.r();
    let now = 4_000_000_000;
    let items = r.links_to_check(now, 0, 10).await.unwrap();
    assert_eq!(
        items,
        vec![CheckItem {
            did: did(1),
            inbox_id: inbox(1),
            verification_signature: "c2lnbmF0dXJl".into(),
            record_cid: cid("c1"),
            status: Status::Pending,
        }]
    );
    let items = r.links_to_check(now, now, 10).await.unwrap();
    let dids: Vec<_> = items.iter().map(|i| (i.did.clone(), i.status)).collect();
    assert_eq!(
        dids,
        vec![(did(1), Status::Pending), (did(2), Status::Verified)]
    );
    assert_eq!(r.links_to_check(now, now, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn inbox_state_round_trips_every_u64() {
    let db = Db::new();
    let r = db.r();
    assert_eq!(r.inbox_state(&inbox(1)).await.unwrap(), None);
    db.apply(vec![Change::InboxState {
        inbox_id: inbox(1),
        last_sequence_id: u64::MAX,
        state: vec![1, 2, 3],
    }])
    .await;
    assert_eq!(
        r.inbox_state(&inbox(1)).await.unwrap(),
        Some((u64::MAX, vec![1, 2, 3]))
    );
    db.apply(vec![Change::InboxState {
        inbox_id: inbox(1),
        last_sequence_id: 7,
        state: vec![],
    }])
    .await;
    assert_eq!(r.inbox_state(&inbox(1)).await.unwrap(), Some((7, vec![])));
}

#[tokio::test]
async fn upstream_position_is_saved_with_the_hints_it_queued_and_kept_per_upstream() {
    let db = Db::new();
    let r = db.r();
    let up = "http://upstream.test";
    assert_eq!(
        r.upstream_state(up).await.unwrap(),
        UpstreamState::default()
    );
    let at = |seq, bootstrapped| Change::Upstream {
        upstream: up.to_owned(),
        state: UpstreamState {
            seq: Some(seq),
            bootstrapped,
        },
    };
    db.apply(vec![desync(&did(1), "upstream", None), at(7, false)])
        .await;
    assert_eq!(r.desynchronized_dids().await.unwrap(), vec![did(1)]);
    db.apply(vec![at(9, true)]).await;
    let s = r.upstream_state(up).await.unwrap();
    assert_eq!((s.seq, s.bootstrapped), (Some(9), true));
    // A re-bootstrap after OutdatedCursor may go back; the position is replaced, not maxed.
    db.apply(vec![at(3, false)]).await;
    let s = r.upstream_state(up).await.unwrap();
    assert_eq!((s.seq, s.bootstrapped), (Some(3), false));
    assert_eq!(
        r.upstream_state("http://other.test").await.unwrap(),
        UpstreamState::default()
    );
}
