//! Handles stored once (migration 0010): on the link while the DID has one, in
//! `unlinked_handles` otherwise. Every read answers as if there were one table of handles.

use super::*;

/// A did:plc that packs into a 16-byte key, and one that does not.
fn dids() -> [syntax::Did; 2] {
    [
        d("did:plc:ewvi7nxzyoun6zhxrhs64oiz"),
        d("did:web:bob.example.com"),
    ]
}

/// (rows on links with a handle, rows in unlinked_handles) for `did`.
async fn placed(db: &Db, did: &str) -> (i64, i64) {
    let key = crate::compact::did_key(did);
    db.r()
        .run(move |c| {
            Ok(c.query_row(
                "SELECT (SELECT COUNT(*) FROM links WHERE did = ?1 AND handle IS NOT NULL),
                        (SELECT COUNT(*) FROM unlinked_handles WHERE did = ?1)",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_handle_follows_its_did_as_the_link_comes_and_goes() {
    for did in dids() {
        let db = Db::new();
        let r = db.r();
        // Handle first, no link yet: it is the DID's all the same.
        db.apply(vec![handle(&did, Some("Alice.Test"))]).await;
        assert_eq!(placed(&db, &did).await, (0, 1));
        assert_eq!(
            r.did_by_handle("alice.test").await.unwrap(),
            Some(did.clone())
        );
        assert!(r.actor_known(&did).await.unwrap());
        assert_eq!(
            r.all_handles().await.unwrap(),
            vec!["alice.test".to_owned()]
        );

        // The record arrives: the link carries the handle, stored once.
        db.apply(vec![put(&did, "bafy1", &inbox(1), None)]).await;
        assert_eq!(placed(&db, &did).await, (1, 0));
        let link = r.link_by_did(&did).await.unwrap().unwrap();
        assert_eq!(link.handle.as_deref(), Some("alice.test"));
        assert_eq!(
            r.did_by_handle("ALICE.TEST").await.unwrap(),
            Some(did.clone())
        );

        // A new record version keeps it.
        db.apply(vec![put(&did, "bafy2", &inbox(1), None)]).await;
        assert_eq!(placed(&db, &did).await, (1, 0));

        // The record is deleted: the handle stays the DID's, off the link.
        db.apply(vec![Change::DeleteRecord {
            did: did.clone(),
            rev: None,
        }])
        .await;
        assert_eq!(placed(&db, &did).await, (0, 1));
        assert_eq!(r.link_by_did(&did).await.unwrap(), None);
        assert_eq!(
            r.did_by_handle("alice.test").await.unwrap(),
            Some(did.clone())
        );
        assert!(r.actor_known(&did).await.unwrap());
        assert_eq!(
            r.handles_due(i64::MAX, 10).await.unwrap(),
            vec![did.clone()]
        );

        // A record again: back on the link.
        db.apply(vec![put(&did, "bafy3", &inbox(1), None)]).await;
        assert_eq!(placed(&db, &did).await, (1, 0));
        let link = r.link_by_did(&did).await.unwrap().unwrap();
        assert_eq!(link.handle.as_deref(), Some("alice.test"));

        // Cleared: gone from everywhere.
        db.apply(vec![handle(&did, None)]).await;
        assert_eq!(placed(&db, &did).await, (0, 0));
        assert_eq!(r.did_by_handle("alice.test").await.unwrap(), None);
        assert!(r.all_handles().await.unwrap().is_empty());
        assert!(r.link_by_did(&did).await.unwrap().unwrap().handle.is_none());
    }
}

#[tokio::test]
async fn a_handle_taken_over_leaves_its_previous_did_linked_or_not() {
    let [a, b] = dids();
    let c = did(3);
    let db = Db::new();
    let r = db.r();
    // a has a link, b has none.
    db.apply(vec![
        put(&a, "bafy1", &inbox(1), None),
        handle(&a, Some("one.test")),
        handle(&b, Some("two.test")),
    ])
    .await;
    // c (no link) takes a's handle, then a takes b's.
    db.apply(vec![handle(&c, Some("one.test"))]).await;
    assert_eq!(r.did_by_handle("one.test").await.unwrap(), Some(c.clone()));
    assert_eq!(r.link_by_did(&a).await.unwrap().unwrap().handle, None);
    db.apply(vec![handle(&a, Some("two.test"))]).await;
    assert_eq!(r.did_by_handle("two.test").await.unwrap(), Some(a.clone()));
    assert_eq!(placed(&db, &b).await, (0, 0));
    assert_eq!(
        r.link_by_did(&a).await.unwrap().unwrap().handle.as_deref(),
        Some("two.test")
    );
    let mut all = r.all_handles().await.unwrap();
    all.sort();
    assert_eq!(all, vec!["one.test".to_owned(), "two.test".to_owned()]);
    // The outbox saw a's view change at each step.
    let events = r.link_events_after(0, 100).await.unwrap();
    let a_events: Vec<Option<String>> = events
        .iter()
        .filter(|e| e.did == a)
        .map(|e| {
            e.link
                .as_ref()
                .and_then(|l| l.handle.as_deref().map(str::to_owned))
        })
        .collect();
    assert_eq!(
        a_events,
        vec![
            None,
            Some("one.test".to_owned()),
            None,
            Some("two.test".to_owned())
        ]
    );
}

#[tokio::test]
async fn hidden_and_deleted_accounts_keep_their_handle_out_of_lookups() {
    let [a, b] = dids();
    let db = Db::new();
    let r = db.r();
    db.apply(vec![
        put(&a, "bafy1", &inbox(1), None),
        handle(&a, Some("one.test")),
        handle(&b, Some("two.test")),
        account(&a, false, Some("takendown")),
        account(&b, false, Some("takendown")),
    ])
    .await;
    assert_eq!(r.did_by_handle("one.test").await.unwrap(), None);
    assert_eq!(r.did_by_handle("two.test").await.unwrap(), None);
    db.apply(vec![account(&a, true, None), account(&b, true, None)])
        .await;
    assert_eq!(r.did_by_handle("one.test").await.unwrap(), Some(a.clone()));
    assert_eq!(r.did_by_handle("two.test").await.unwrap(), Some(b.clone()));
    db.apply(vec![
        account(&a, false, Some("deleted")),
        account(&b, false, Some("deleted")),
    ])
    .await;
    assert_eq!(placed(&db, &a).await, (0, 0));
    assert_eq!(placed(&db, &b).await, (0, 0));
    assert!(r.all_handles().await.unwrap().is_empty());
}

#[tokio::test]
async fn handles_due_merges_linked_and_unlinked_handles_oldest_first() {
    let [a, b] = dids();
    let c = did(3);
    let db = Db::new();
    let r = db.r();
    db.apply(vec![put(&a, "bafy1", &inbox(1), None)]).await;
    for (d, h) in [(&b, "b.test"), (&a, "a.test"), (&c, "c.test")] {
        db.apply(vec![handle(d, Some(h))]).await;
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    assert_eq!(
        r.handles_due(i64::MAX, 10).await.unwrap(),
        vec![b.clone(), a.clone(), c.clone()]
    );
    assert_eq!(r.handles_due(i64::MAX, 2).await.unwrap(), vec![b, a]);
    assert!(r.handles_due(0, 10).await.unwrap().is_empty());
    let newest = r.replica_status().await.unwrap().newest_change_ms.unwrap();
    assert!(newest > 0);
}
