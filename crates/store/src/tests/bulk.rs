//! Bulk writes (plain `INSERT`/`UPDATE ... OR FAIL` instead of upserts, large groups) and the
//! one-statement `resolveActors` lookup: same answers, same counters, nothing acknowledged lost.

use std::path::Path;

use rusqlite::Connection;

use super::*;
use crate::backfill::{BackfillChange, BackfillState};

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// The visible links per status counted from the rows, against `link_counts` (trigger-kept).
fn assert_counts_match_rows(conn: &Connection) {
    let counted: Vec<(i64, i64)> = conn
        .prepare("SELECT status, n FROM link_counts WHERE n != 0 ORDER BY status")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let rows: Vec<(i64, i64)> = conn
        .prepare(
            "SELECT status, COUNT(*) FROM links WHERE hidden = 0 GROUP BY status ORDER BY status",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(counted, rows);
}

fn events(conn: &Connection) -> Vec<(String, String)> {
    conn.prepare("SELECT kind, did FROM link_events ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn put_record_inserts_updates_and_skips_like_the_upsert_did() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let store = Store::open(&path).unwrap();
    let w = store.writer();
    let apply = |changes: Vec<Change>| w.apply(Batch::of(changes));
    apply(vec![
        put(&did(1), "c1", &inbox(1), None),
        verdict(&did(1), "c1", Status::Verified),
        handle(&did(1), Some("one.test")),
        account(&did(2), false, Some("takendown")),
        put(&did(2), "c2", &inbox(2), None),
        put(&did(3), "c3", &inbox(3), None),
    ])
    .await
    .unwrap();
    // The same CID again: nothing changes, no event. A new CID: the link starts over as
    // pending (verification cleared), keeps its handle; a hidden account's link stays hidden.
    apply(vec![
        put(&did(1), "c1", &inbox(1), None),
        put(&did(3), "c3b", &inbox(4), None),
        put(&did(2), "c2b", &inbox(2), None),
        put(&did(1), "c1b", &inbox(1), None),
    ])
    .await
    .unwrap();
    let r = store.reader();
    let one = r.link_by_did(&did(1)).await.unwrap().unwrap();
    assert_eq!(
        (one.status, one.record.cid, one.handle.as_deref()),
        (Status::Pending, cid("c1b"), Some("one.test"))
    );
    assert_eq!((one.installation_key, one.verified_at), (None, None));
    assert_eq!(r.link_by_did(&did(2)).await.unwrap(), None);
    let three = r.link_by_did(&did(3)).await.unwrap().unwrap();
    assert_eq!((three.record.cid, three.inbox_id), (cid("c3b"), inbox(4)));
    let conn = raw(&path);
    assert_counts_match_rows(&conn);
    let kinds: Vec<(String, String)> = events(&conn);
    let expected = [
        ("created", did(1)),
        ("verified", did(1)),
        ("updated", did(1)),
        ("created", did(3)),
        ("updated", did(3)),
        ("updated", did(1)),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(k, d)| (k.to_owned(), d.to_string()))
        .collect();
    assert_eq!(kinds, expected);
    // Shown again: the link written while hidden comes back with its latest record.
    apply(vec![account(&did(2), true, None)]).await.unwrap();
    let two = r.link_by_did(&did(2)).await.unwrap().unwrap();
    assert_eq!(two.record.cid, cid("c2b"));
    assert_counts_match_rows(&conn);
}

fn backfill_batch(range: std::ops::Range<u32>) -> Vec<Change> {
    range
        .flat_map(|n| {
            [
                put(&did(n), &format!("c{n}"), &inbox(n), Some("3lbbbbbbbbb22")),
                Change::Backfill(BackfillChange::Repo {
                    did: did(n).to_string(),
                    state: BackfillState::Indexed,
                    error: None,
                }),
            ]
        })
        .collect()
}

#[tokio::test]
async fn a_crash_mid_bulk_loses_nothing_acknowledged_and_the_backfill_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    {
        let store = Store::open(&path).unwrap();
        let w = store.writer();
        let page = Change::Backfill(BackfillChange::Page {
            service: "relay".into(),
            cursor: None,
            complete: true,
            dids: (0..3_000).map(|n| did(n).to_string()).collect(),
        });
        w.apply(Batch::of(vec![page])).await.unwrap();
        // Acknowledged: several batches in flight at once, grouped by the writer.
        let acked: Vec<_> = (0..3)
            .map(|k| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.apply(Batch::of(backfill_batch(k * 500..(k + 1) * 500)))
                        .await
                })
            })
            .collect();
        for h in acked {
            h.await.unwrap().unwrap();
        }
    }
    // The writer dies mid-transaction: half a bulk load applied, with a cache so small that
    // its pages spill into the WAL before the commit that never comes.
    {
        let mut conn = crate::conn::open_writer(&path).unwrap();
        conn.pragma_update(None, "cache_size", 4).unwrap();
        let tx = conn.transaction().unwrap();
        crate::apply::apply_batch(&tx, &Batch::of(backfill_batch(1_500..3_000)), 1).unwrap();
        drop(tx);
    }
    let store = Store::open(&path).unwrap();
    let r = store.reader();
    assert_eq!(r.counts().await.unwrap().pending, 1_500);
    let c = r.backfill_counts().await.unwrap();
    assert_eq!((c.indexed, c.pending), (1_500, 1_500));
    // The backfill resumes where the acknowledged writes stopped.
    let todo = r.backfill_todo(None, 5_000).await.unwrap();
    assert_eq!(todo, (1_500..3_000).map(did).collect::<Vec<_>>());
    let conn = raw(&path);
    assert_eq!(events(&conn).len(), 1_500);
    store
        .writer()
        .apply(Batch::of(backfill_batch(1_500..3_000)))
        .await
        .unwrap();
    assert_eq!(r.counts().await.unwrap().pending, 3_000);
    assert_eq!(r.backfill_counts().await.unwrap().indexed, 3_000);
    let all = events(&conn);
    assert_eq!(all.len(), 3_000);
    assert!(all.iter().all(|(kind, _)| kind == "created"));
    assert_counts_match_rows(&conn);
}

#[tokio::test]
async fn links_json_by_dids_answers_as_one_probe_per_did_did() {
    let db = Db::new();
    let mut changes = Vec::new();
    for n in 0..300u32 {
        if n % 7 == 0 {
            continue; // unknown
        }
        changes.push(put(&did(n), &format!("c{n}"), &inbox(n % 50), None));
        match n % 5 {
            0 => changes.push(verdict(&did(n), &format!("c{n}"), Status::Invalid)),
            1 => {} // pending
            4 => {
                changes.push(verdict(&did(n), &format!("c{n}"), Status::Verified));
                changes.push(account(&did(n), false, Some("suspended")));
            }
            _ => changes.push(verdict(&did(n), &format!("c{n}"), Status::Verified)),
        }
    }
    let web = "did:web:example.com";
    changes.push(put(web, "cw", &inbox(1), None));
    changes.push(verdict(web, "cw", Status::Verified));
    db.apply(changes).await;
    let r = db.r();
    // Every statement size and the boundaries around them, in a scrambled order with repeats.
    for len in [
        0usize, 1, 3, 4, 5, 16, 17, 39, 40, 41, 99, 100, 101, 250, 400,
    ] {
        let asked: Vec<String> = (0..len as u32)
            .map(|i| {
                if i % 37 == 5 {
                    web.to_owned()
                } else {
                    did((i * 113 + len as u32) % 320).to_string()
                }
            })
            .collect();
        for include in [false, true] {
            let mut seen = std::collections::HashSet::new();
            let mut items = Vec::new();
            for d in &asked {
                if !seen.insert(d.clone()) {
                    continue;
                }
                if let Some((status, json)) = r.link_json_by_did(d).await.unwrap()
                    && (include || status == Status::Verified)
                {
                    items.push(String::from_utf8(json).unwrap());
                }
            }
            let expected = format!("{{\"links\":[{}]}}", items.join(","));
            let got = r.links_json_by_dids(asked.clone(), include).await.unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                expected,
                "len={len} include={include}"
            );
        }
    }
}
