//! Every `Reader` method, paging under writes, read-only opens and schema checks.

use std::path::Path;

use super::*;

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
        .links_by_dids([3, 7, 1, 3].map(|n| did(n).into()).to_vec())
        .await
        .unwrap();
    let got: Vec<_> = links.iter().map(|l| l.did.clone()).collect();
    assert_eq!(got, vec![did(3), did(1)]);
    let by_inbox = r
        .links_by_inboxes(vec![inbox(9), inbox(7), inbox(9)], true, 100)
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
            rev: rev("3kaaaaaaaaaa2"),
            data_cid: cid("d"),
            commit_cid: cid("c"),
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

    let dids: Vec<String> = [3, 9, 1, 2, 1].map(|n| did(n).into()).to_vec();
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
    let none = r
        .links_json_by_dids(vec![did(9).into()], true)
        .await
        .unwrap();
    assert_eq!(none, b"{\"links\":[]}");
}

#[tokio::test]
async fn links_json_by_dids_answers_more_dids_than_one_statement_takes() {
    let db = Db::new();
    let changes = (0..250)
        .filter(|n| n % 3 != 0)
        .flat_map(|n| {
            [
                put(&did(n), "c", &inbox(n), None),
                verdict(&did(n), "c", Status::Verified),
            ]
        })
        .collect();
    db.apply(changes).await;
    // Reverse order, with repeats: the answer follows the input order, each DID once.
    let asked: Vec<String> = (0..250).rev().chain(0..10).map(|n| did(n).into()).collect();
    let body = db.r().links_json_by_dids(asked, false).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let got: Vec<&str> = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["did"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..250)
        .rev()
        .filter(|n| n % 3 != 0)
        .map(|n| did(n).into())
        .collect();
    assert_eq!(got, expected);
}
