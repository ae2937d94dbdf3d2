//! Unit tests of the store on fresh temporary databases: every `Change` variant and every
//! `Reader` method.

use std::path::Path;

use crate::*;

fn inbox(n: u32) -> String {
    format!("{n:064x}")
}

fn did(n: u32) -> String {
    format!("did:plc:{n:08}")
}

fn record(cid: &str, inbox_id: &str) -> RecordInput {
    RecordInput {
        cid: cid.to_owned(),
        inbox_id: inbox_id.to_owned(),
        verification_signature: "c2lnbmF0dXJl".to_owned(),
        created_at: "2026-01-01T00:00:00.000Z".to_owned(),
        malformed: None,
    }
}

fn put(did: &str, cid: &str, inbox_id: &str, rev: Option<&str>) -> Change {
    Change::PutRecord {
        did: did.to_owned(),
        rev: rev.map(str::to_owned),
        record: record(cid, inbox_id),
    }
}

fn verdict(did: &str, cid: &str, status: Status) -> Change {
    Change::Verdict {
        did: did.to_owned(),
        record_cid: cid.to_owned(),
        status,
        reason: (status == Status::Invalid).then(|| "bad signature".to_owned()),
        installation_key: (status == Status::Verified).then(|| "ab".repeat(32)),
    }
}

fn account(did: &str, active: bool, status: Option<&str>) -> Change {
    Change::AccountStatus {
        did: did.to_owned(),
        active,
        status: status.map(str::to_owned),
    }
}

fn handle(did: &str, h: Option<&str>) -> Change {
    Change::Handle {
        did: did.to_owned(),
        handle: h.map(str::to_owned),
    }
}

struct Db {
    _dir: tempfile::TempDir,
    store: Store,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("index.sqlite")).unwrap();
        Db { _dir: dir, store }
    }

    async fn apply(&self, changes: Vec<Change>) {
        self.store.writer().apply(Batch::of(changes)).await.unwrap();
    }

    fn r(&self) -> Reader {
        self.store.reader()
    }

    async fn status_of(&self, did: &str) -> Option<Status> {
        self.r().link_by_did(did).await.unwrap().map(|l| l.status)
    }
}

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
    assert_eq!(link.record.cid, "bafy1");
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
    assert_eq!(link.record.cid, "bafy2");
    assert_eq!(link.inbox_id, inbox(2));
    assert_eq!(link.installation_key, None);
    assert_eq!(link.verified_at, None);
    assert!(db.r().links_by_inbox(&inbox(1)).await.unwrap().is_empty());
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
            rev: Some("3kaaaaaaaaaa3".into()),
        },
    ])
    .await;
    let link = db.r().link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(link.record.cid, "bafy-new");
    assert_eq!(
        db.r().repo_rev(&did(1)).await.unwrap().as_deref(),
        Some("3kaaaaaaaaab2")
    );
    // A delete with a newer rev removes it; a put older than that delete stays out.
    db.apply(vec![
        Change::DeleteRecord {
            did: did(1),
            rev: Some("3kaaaaaaaaac2".into()),
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
    assert!(r.links_by_dids(vec![did(1)]).await.unwrap().is_empty());
    assert!(r.links_by_inbox(&inbox(1)).await.unwrap().is_empty());
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
    assert_eq!(r.repo_rev(&did(1)).await.unwrap(), None);
    assert!(r.tracked_dids().await.unwrap().is_empty());
    assert_eq!(r.counts().await.unwrap(), Counts::default());
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
    let state = |rev: &str, data: &str| Change::RepoState {
        did: did(1),
        rev: rev.to_owned(),
        data_cid: data.to_owned(),
        commit_cid: format!("commit-{data}"),
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
            rev: "3kaaaaaaaaab2".into(),
            data_cid: "d2".into(),
            commit_cid: "commit-d2".into()
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
            record_cid: "bafy1".into(),
            not_before: 1_000,
        },
        // About an older record: ignored.
        Change::RetryLater {
            did: did(1),
            record_cid: "bafy0".into(),
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
            record_cid: "c1".into(),
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
async fn cursor_and_counters_are_saved_with_the_batch() {
    let db = Db::new();
    let r = db.r();
    assert_eq!(r.firehose_state().await.unwrap(), FirehoseState::default());
    let stats = StatsDelta {
        frames: 10,
        commits_verified: 3,
        commits_rejected: 1,
    };
    let w = db.store.writer();
    w.apply(Batch {
        changes: vec![put(&did(1), "c1", &inbox(1), None)],
        cursor: Some(42),
        stats,
    })
    .await
    .unwrap();
    w.apply(Batch {
        changes: vec![],
        cursor: None,
        stats,
    })
    .await
    .unwrap();
    assert_eq!(
        r.firehose_state().await.unwrap(),
        FirehoseState {
            cursor: Some(42),
            frames: 20,
            commits_verified: 6,
            commits_rejected: 2
        }
    );
}

#[tokio::test]
async fn batch_lookups_keep_input_order_and_skip_unknowns() {
    let db = Db::new();
    db.apply(vec![
        put(&did(1), "c1", &inbox(9), None),
        put(&did(2), "c2", &inbox(9), None),
        put(&did(3), "c3", &inbox(8), None),
    ])
    .await;
    let r = db.r();
    let links = r
        .links_by_dids(vec![did(3), did(7), did(1), did(3)])
        .await
        .unwrap();
    let got: Vec<_> = links.iter().map(|l| l.did.clone()).collect();
    assert_eq!(got, vec![did(3), did(1)]);
    let by_inbox = r
        .links_by_inboxes(vec![inbox(9), inbox(7), inbox(9)])
        .await
        .unwrap();
    assert_eq!(by_inbox.len(), 2);
    assert_eq!(by_inbox[0].0, inbox(9));
    let dids: Vec<_> = by_inbox[0].1.iter().map(|l| l.did.clone()).collect();
    assert_eq!(dids, vec![did(1), did(2)]);
    assert_eq!(by_inbox[1], (inbox(7), vec![]));
}

#[tokio::test]
async fn list_links_filters_by_status_and_ends_without_cursor() {
    let db = Db::new();
    let mut changes = Vec::new();
    for n in 0..5 {
        changes.push(put(&did(n), "c", &inbox(n), None));
        if n % 2 == 0 {
            changes.push(verdict(&did(n), "c", Status::Verified));
        }
    }
    db.apply(changes).await;
    let r = db.r();
    let (page, cursor) = r.list_links(Some(Status::Verified), None, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    let cursor = cursor.unwrap();
    let (page2, cursor2) = r
        .list_links(Some(Status::Verified), Some(cursor), 2)
        .await
        .unwrap();
    assert_eq!(page2.len(), 1);
    assert_eq!(cursor2, None);
    let (all, none) = r.list_links(None, None, 5).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(none, None, "an exactly full last page has no cursor");
    let (pending, _) = r.list_links(Some(Status::Pending), None, 10).await.unwrap();
    assert_eq!(pending.len(), 2);
    let err = r
        .list_links(None, Some("garbage".into()), 5)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadCursor(_)));
}

#[tokio::test]
async fn paging_never_skips_or_repeats_a_link_while_writes_go_on() {
    let db = Db::new();
    // Even numbers exist throughout; odd ones come and go between pages.
    let changes = (0..300)
        .step_by(2)
        .map(|n| put(&did(n), "c", &inbox(n), None))
        .collect();
    db.apply(changes).await;
    let r = db.r();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut round = 0u32;
    loop {
        let (page, next) = r.list_links(None, cursor, 7).await.unwrap();
        seen.extend(page.into_iter().map(|l| l.did));
        // Interleave writes: new links before and after the cursor, deletes of new links,
        // changes to existing ones.
        let a = ((round * 37) % 300) | 1;
        let b = ((round * 11 + 150) % 300) | 1;
        db.apply(vec![
            put(&did(a), "c", &inbox(a), None),
            put(&did(b), "c", &inbox(b), None),
            Change::DeleteRecord {
                did: did(((round * 53) % 300) | 1),
                rev: None,
            },
            put(&did((round * 4) % 300), "changed", &inbox(1), None),
        ])
        .await;
        round += 1;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), seen.len(), "a link was repeated");
    for n in (0..300).step_by(2) {
        assert!(seen.contains(&did(n)), "{} was skipped", did(n));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "pages come in DID order");
}

#[tokio::test]
async fn tracked_dids_are_those_with_a_link_or_repo_state() {
    let db = Db::new();
    db.apply(vec![
        put(&did(2), "c", &inbox(2), None),
        Change::RepoState {
            did: did(1),
            rev: "3kaaaaaaaaaa2".into(),
            data_cid: "d".into(),
            commit_cid: "c".into(),
        },
        handle(&did(3), Some("carol.test")),
    ])
    .await;
    assert_eq!(db.r().tracked_dids().await.unwrap(), vec![did(1), did(2)]);
}

#[tokio::test]
async fn actor_known_tells_known_accounts_from_strangers() {
    let db = Db::new();
    db.apply(vec![
        account(&did(1), true, None),
        handle(&did(2), Some("b.test")),
    ])
    .await;
    let r = db.r();
    assert!(r.actor_known(&did(1)).await.unwrap());
    assert!(r.actor_known(&did(2)).await.unwrap());
    assert!(!r.actor_known(&did(3)).await.unwrap());
}

#[tokio::test]
async fn apply_blocking_works_from_a_plain_thread() {
    let db = Db::new();
    let w = db.store.writer();
    std::thread::spawn(move || {
        w.apply_blocking(Batch::of(vec![put(&did(1), "c", &inbox(1), None)]))
    })
    .join()
    .unwrap()
    .unwrap();
    assert!(db.r().link_by_did(&did(1)).await.unwrap().is_some());
}

#[tokio::test]
async fn queries_never_wait_on_an_open_write_transaction() {
    let db = Db::new();
    db.apply(vec![put(&did(1), "c", &inbox(1), None)]).await;
    // Another connection holds a write transaction open, uncommitted.
    let other = rusqlite::Connection::open(db.store.path()).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; DELETE FROM links;")
        .unwrap();
    let started = std::time::Instant::now();
    let link = db.r().link_by_did(&did(1)).await.unwrap();
    assert!(link.is_some(), "readers see the last committed state");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    other.execute_batch("ROLLBACK").unwrap();
}

#[tokio::test]
async fn read_only_reader_opens_only_existing_current_databases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.sqlite");
    assert!(matches!(
        Reader::open_read_only(&path).unwrap_err(),
        StoreError::Missing(_)
    ));
    let store = Store::open(&path).unwrap();
    store
        .writer()
        .apply(Batch::of(vec![put(&did(1), "c", &inbox(1), None)]))
        .await
        .unwrap();
    let replica = Reader::open_read_only(&path).unwrap();
    assert!(replica.link_by_did(&did(1)).await.unwrap().is_some());
}

#[tokio::test]
async fn reopening_keeps_data_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    {
        let store = Store::open(&path).unwrap();
        store
            .writer()
            .apply(Batch {
                changes: vec![put(&did(1), "c", &inbox(1), None)],
                cursor: Some(7),
                stats: StatsDelta::default(),
            })
            .await
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.reader().firehose_state().await.unwrap().cursor,
        Some(7)
    );
    drop(store);
    mark_future_version(&path);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
    assert!(matches!(
        Reader::open_read_only(&path).unwrap_err(),
        StoreError::SchemaTooNew { .. }
    ));
}

fn mark_future_version(path: &Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1000, 'future', 0)",
        [],
    )
    .unwrap();
}

#[tokio::test]
async fn link_json_is_byte_for_byte_the_serde_link_view() {
    let db = Db::new();
    let mut odd = record("bafy\"odd\\", &inbox(3));
    odd.verification_signature = "line\nbreak \u{1} é".into();
    odd.malformed = Some("bad \"id\"".into());
    db.apply(vec![
        put(&did(1), "c1", &inbox(1), None),
        verdict(&did(1), "c1", Status::Verified),
        handle(&did(1), Some("alice.test")),
        put(&did(2), "c2", &inbox(2), None),
        Change::PutRecord {
            did: did(3),
            rev: None,
            record: odd,
        },
    ])
    .await;
    let r = db.r();
    for n in 1..=3 {
        let view = r.link_by_did(&did(n)).await.unwrap().unwrap();
        let (status, json) = r.link_json_by_did(&did(n)).await.unwrap().unwrap();
        assert_eq!(status, view.status);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            serde_json::to_string(&view).unwrap()
        );
    }
    assert_eq!(r.link_json_by_did(&did(9)).await.unwrap(), None);

    let dids = vec![did(3), did(9), did(1), did(2), did(1)];
    for include in [false, true] {
        let mut views = r.links_by_dids(dids.clone()).await.unwrap();
        views.retain(|v| include || v.status == Status::Verified);
        let items: Vec<String> = views
            .iter()
            .map(|v| serde_json::to_string(v).unwrap())
            .collect();
        let expected = format!("{{\"links\":[{}]}}", items.join(","));
        let got = r.links_json_by_dids(dids.clone(), include).await.unwrap();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            expected,
            "include={include}"
        );
    }
    let none = r.links_json_by_dids(vec![did(9)], true).await.unwrap();
    assert_eq!(none, b"{\"links\":[]}");
}
