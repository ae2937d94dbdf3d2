//! Reads stay bounded whatever strangers publish: inbox lookups are capped in SQL, stored
//! reasons are capped when written, and a read whose caller went away stops.

use std::time::Duration;

use super::*;

const CAP: usize = 100;

/// 300 pending and 3 invalid claims on `inbox(1)`, and two verified links whose DIDs sort
/// after every claim.
async fn crowded_inbox(db: &Db) {
    let mut changes = Vec::new();
    for n in 0..300 {
        changes.push(put(&did(n), &format!("p{n}"), &inbox(1), None));
    }
    for n in 300..303 {
        changes.push(put(&did(n), &format!("i{n}"), &inbox(1), None));
        changes.push(verdict(&did(n), &format!("i{n}"), Status::Invalid));
    }
    for n in [900, 901] {
        changes.push(put(&did(n), &format!("v{n}"), &inbox(1), None));
        changes.push(verdict(&did(n), &format!("v{n}"), Status::Verified));
    }
    db.apply(changes).await;
}

#[tokio::test]
async fn inbox_lookups_are_capped_and_claims_never_crowd_out_verified_links() {
    let db = Db::new();
    crowded_inbox(&db).await;
    let r = db.r();

    let verified = r.links_by_inbox(&inbox(1), false, CAP).await.unwrap();
    let dids: Vec<_> = verified.iter().map(|l| l.did.clone()).collect();
    assert_eq!(dids, [did(900), did(901)]);

    let all = r.links_by_inbox(&inbox(1), true, CAP).await.unwrap();
    assert_eq!(all.len(), CAP, "the cap bites: 305 links name the inbox");
    let dids: Vec<_> = all.iter().map(|l| l.did.clone()).collect();
    let mut sorted = dids.clone();
    sorted.sort();
    assert_eq!(dids, sorted, "DID order");
    assert!(dids.contains(&did(900)) && dids.contains(&did(901)));
    // The rest are the first unverified claims in DID order.
    assert_eq!(dids[..CAP - 2], (0..98).map(did).collect::<Vec<_>>()[..]);

    let small = r.links_by_inbox(&inbox(1), true, 1).await.unwrap();
    assert_eq!(small.len(), 1);
    assert_eq!(small[0].status, Status::Verified);

    let batch = r
        .links_by_inboxes(vec![inbox(1), inbox(2)], true, CAP)
        .await
        .unwrap();
    assert_eq!(batch[0].1.len(), CAP);
    assert_eq!(batch[1], (inbox(2), vec![]));
    let batch = r
        .links_by_inboxes(vec![inbox(1)], false, CAP)
        .await
        .unwrap();
    assert_eq!(batch[0].1.len(), 2);
}

#[tokio::test]
async fn reasons_are_capped_when_written() {
    let db = Db::new();
    let mut malformed = record("m1", &inbox(1));
    malformed.malformed = Some(format!("bad rkey {}", "k".repeat(1 << 20)));
    let long_verdict = Change::Verdict {
        did: did(2),
        record_cid: cid("c2"),
        status: Status::Invalid,
        reason: Some("é".repeat(4_000)),
        installation_key: None,
    };
    db.apply(vec![
        Change::PutRecord {
            did: did(1),
            rev: None,
            record: malformed,
        },
        put(&did(2), "c2", &inbox(2), None),
        long_verdict,
    ])
    .await;
    let r = db.r();
    let one = r.link_by_did(&did(1)).await.unwrap().unwrap();
    let reason = one.reason.unwrap();
    assert_eq!(one.status, Status::Invalid);
    assert_eq!(reason.len(), MAX_REASON_BYTES);
    assert!(reason.starts_with("bad rkey kkk"));
    let two = r.link_by_did(&did(2)).await.unwrap().unwrap();
    let reason = two.reason.unwrap();
    assert_eq!(
        reason.len(),
        MAX_REASON_BYTES,
        "cut on a char boundary: 128 × é"
    );
    assert!(reason.chars().all(|c| c == 'é'));
}

/// A query that runs for seconds on its own (finite, so that a failing test ends).
fn endless(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT 50000000)
         SELECT count(*) FROM c",
        [],
        |r| r.get(0),
    )?)
}

#[tokio::test]
async fn a_dropped_read_is_interrupted_and_frees_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        reader: ReaderOptions {
            connections: 1,
            ..ReaderOptions::default()
        },
        ..StoreOptions::default()
    };
    let store = Store::open_with(&dir.path().join("index.sqlite"), options).unwrap();
    let r = store.reader();
    assert_eq!(r.available_permits(), 1);

    let timed_out = tokio::time::timeout(Duration::from_millis(100), r.run(endless)).await;
    assert!(timed_out.is_err(), "the endless query cannot finish");

    // The progress handler stops it: the only permit comes back and the pool still works.
    let freed = tokio::time::timeout(Duration::from_secs(5), async {
        while r.available_permits() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(
        freed.is_ok(),
        "the permit of a dropped read was never released"
    );
    let counts = tokio::time::timeout(Duration::from_secs(5), r.counts()).await;
    assert_eq!(counts.unwrap().unwrap(), Counts::default());
    // A read that completes is not affected by the handler it ran under.
    let n = r
        .run(|c| Ok(c.query_row("SELECT 41 + 1", [], |row| row.get::<_, i64>(0))?))
        .await
        .unwrap();
    assert_eq!(n, 42);
}

#[tokio::test]
async fn the_cache_budget_is_split_between_the_writer_and_the_readers() {
    let default = StoreOptions::default();
    let readers = u32::try_from(default.reader.connections).unwrap();
    assert_eq!(default.writer_cache_kib, 8 * 1024);
    assert_eq!(default.reader.cache_kib, 8 * 1024 / readers);
    // A tiny budget still leaves every connection a working cache.
    let tiny = StoreOptions::with_cache_mib(1);
    assert_eq!(tiny.writer_cache_kib, 512);
    assert_eq!(tiny.reader.cache_kib, 256.max(512 / readers));

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        &dir.path().join("index.sqlite"),
        StoreOptions::with_cache_mib(40),
    )
    .unwrap();
    let want = -i64::from(20 * 1024 / readers);
    let got = store
        .reader()
        .run(|c| Ok(c.pragma_query_value(None, "cache_size", |r| r.get::<_, i64>(0))?))
        .await
        .unwrap();
    assert_eq!(
        got, want,
        "a pooled reader runs with its share of the budget"
    );
}
