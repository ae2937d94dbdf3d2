//! Stored rows whose identifiers do not parse (a file edited by hand, a bug of an older
//! version): every typed read skips them, logs and counts them, and nothing fails or panics.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use rusqlite::Connection;

use super::*;
use crate::queries;

/// Runs `f` with a recorder of its own; returns its result and `store_bad_rows_total` by
/// table, as the Prometheus text shows it.
fn counted<T>(f: impl FnOnce() -> T) -> (T, String) {
    let recorder: PrometheusRecorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let out = metrics::with_local_recorder(&recorder, f);
    let text = handle
        .render()
        .lines()
        .filter(|l| l.starts_with(BAD_ROWS))
        .collect::<Vec<_>>()
        .join("\n");
    (out, text)
}

/// An index with three links (did 1..=3, all pending), the record CID of did(2) overwritten
/// with text that is no CID.
async fn one_bad_link() -> (Db, Connection) {
    let db = Db::new();
    db.apply(
        (1..=3)
            .map(|n| put(&did(n), "c", &inbox(n), None))
            .collect(),
    )
    .await;
    let conn = crate::conn::open_writer(db.store.path()).unwrap();
    let changed = conn
        .execute(
            "UPDATE links SET record_cid = 'not a cid!' WHERE did = ?1",
            [crate::compact::did_key(&did(2))],
        )
        .unwrap();
    assert_eq!(changed, 1);
    (db, conn)
}

#[tokio::test]
async fn a_link_whose_record_cid_does_not_parse_is_skipped_by_every_read_and_counted() {
    let (db, conn) = one_bad_link().await;
    let (link, metric) = counted(|| queries::link_by_did(&conn, &did(2)).unwrap());
    assert_eq!(link, None, "the bad row reads as no link");
    assert_eq!(metric, format!("{BAD_ROWS}{{table=\"links\"}} 1"));

    // A page of two skips the bad row but still moves past it.
    let ((page, next), metric) = counted(|| queries::list_links(&conn, None, None, 2).unwrap());
    assert_eq!(
        page.iter().map(|l| l.did.clone()).collect::<Vec<_>>(),
        [did(1)]
    );
    assert_eq!(metric, format!("{BAD_ROWS}{{table=\"links\"}} 1"));
    let (rest, _) = queries::list_links(&conn, None, next.as_deref(), 2).unwrap();
    assert_eq!(
        rest.iter().map(|l| l.did.clone()).collect::<Vec<_>>(),
        [did(3)]
    );

    let (items, metric) = counted(|| queries::links_to_check(&conn, i64::MAX, 0, 10).unwrap());
    let dids: Vec<_> = items.iter().map(|c| c.did.clone()).collect();
    assert_eq!(dids, [did(1), did(3)], "the verifier never sees it");
    assert_eq!(metric, format!("{BAD_ROWS}{{table=\"links\"}} 1"));

    // A change that touches the row (its outbox snapshot reads it) does not fail its batch.
    db.apply(vec![verdict(&did(2), "c", Status::Verified)])
        .await;
    db.apply(vec![put(&did(2), "c2", &inbox(2), None)]).await;
    let link = db.r().link_by_did(&did(2)).await.unwrap().unwrap();
    assert_eq!(
        link.record.cid,
        cid("c2"),
        "a new record replaces the bad row"
    );
}

#[tokio::test]
async fn an_export_leaves_out_a_link_that_does_not_parse() {
    let (db, _conn) = one_bad_link().await;
    let mut seen = Vec::new();
    let n = crate::for_each_link(db.store.path(), true, |l| {
        seen.push(l.did);
        Ok(())
    })
    .unwrap();
    assert_eq!((n, seen), (2, vec![did(1), did(3)]));
}

#[tokio::test]
async fn a_queued_resync_whose_did_does_not_parse_is_reported_and_can_be_dropped() {
    let db = Db::new();
    db.apply(vec![Change::Resync(ResyncChange::Desync {
        did: did(1),
        reason: "since".into(),
        rev: None,
    })])
    .await;
    let conn = crate::conn::open_writer(db.store.path()).unwrap();
    conn.execute(
        "INSERT INTO resync_queue (did, reason, next_attempt, created_at, updated_at)
         VALUES ('not a did', 'since', 0, 0, 0)",
        [],
    )
    .unwrap();
    let r = db.r();
    let due = r.due_resyncs(i64::MAX, 10).await.unwrap();
    assert_eq!(
        due.items.iter().map(|i| i.did.clone()).collect::<Vec<_>>(),
        [did(1)]
    );
    assert_eq!(due.unparsed, ["not a did"]);
    assert_eq!(r.desynchronized_dids().await.unwrap(), [did(1)]);
    db.apply(vec![Change::Resync(ResyncChange::DropUnparsed {
        did: "not a did".into(),
    })])
    .await;
    assert!(
        r.due_resyncs(i64::MAX, 10)
            .await
            .unwrap()
            .unparsed
            .is_empty()
    );
    assert_eq!(r.resync_pending().await.unwrap(), 1);
}

#[tokio::test]
async fn a_repo_state_whose_rev_does_not_parse_reads_as_none() {
    let db = Db::new();
    db.apply(vec![Change::RepoState {
        did: did(1),
        rev: rev("3kaaaaaaaaaa2"),
        data_cid: cid("d"),
        commit_cid: cid("c"),
    }])
    .await;
    let conn = crate::conn::open_writer(db.store.path()).unwrap();
    conn.execute("UPDATE repo_state SET rev = 'not-a-rev'", [])
        .unwrap();
    let ((state, rev), metric) = counted(|| {
        (
            queries::repo_state(&conn, &did(1)).unwrap(),
            queries::repo_rev(&conn, &did(1)).unwrap(),
        )
    });
    assert_eq!((state, rev), (None, None));
    assert_eq!(metric, format!("{BAD_ROWS}{{table=\"repo_state\"}} 2"));
}
