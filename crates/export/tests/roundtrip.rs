//! Export round trips: CSV and JSON lines parse back to exactly what `listLinks` serves, and
//! the SQLite snapshot holds the same rows.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use export::{CSV_COLUMNS, Format, export_file, export_stream};
use store::{Batch, Change, LinkView, RecordInput, RecordView, Status, Store};

/// Seeds `n` links: every third verified, every third invalid, the rest pending; one hidden.
async fn seed(path: &Path, n: usize) -> Store {
    let store = Store::open(path).unwrap();
    let mut changes = Vec::new();
    for i in 0..n {
        let did = format!("did:plc:{i:024}");
        let cid = testkit::ids::cid(&format!("bafyreicid{i}"));
        changes.push(Change::PutRecord {
            did: testkit::ids::did(&did),
            rev: None,
            record: RecordInput {
                cid: cid.clone(),
                inbox_id: format!("{:064x}", i % 7),
                verification_signature: format!("c2ln,\"{i}\"\nx=="),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                malformed: None,
            },
        });
        let status = match i % 3 {
            0 => Status::Verified,
            1 => Status::Invalid,
            _ => continue,
        };
        changes.push(Change::Verdict {
            did: testkit::ids::did(&did),
            record_cid: cid,
            status,
            reason: (status == Status::Invalid).then(|| "signature_mismatch".into()),
            installation_key: (status == Status::Verified).then(|| "ab".repeat(32)),
        });
        if i % 10 == 4 {
            changes.push(Change::Handle {
                did: testkit::ids::did(&did),
                handle: Some(testkit::ids::handle(&format!("user{i}.test"))),
            });
        }
    }
    changes.push(Change::AccountStatus {
        did: testkit::ids::did(&format!("did:plc:{:024}", 3)),
        active: false,
        status: Some("takendown".into()),
    });
    store.writer().apply(Batch::of(changes)).await.unwrap();
    store
}

/// Every link `listLinks` serves for `status`, paged the way a mirror pages.
async fn list_all(store: &Store, status: Option<Status>) -> Vec<LinkView> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = store.reader().list_links(status, cursor, 7).await.unwrap();
        out.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn from_csv(bytes: &[u8]) -> Vec<LinkView> {
    let mut rdr = csv::Reader::from_reader(bytes);
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        CSV_COLUMNS
    );
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            LinkView {
                did: testkit::ids::did(&r[0]),
                handle: opt(&r[1]).map(|h| testkit::ids::handle(&h)),
                inbox_id: r[2].into(),
                status: r[3].parse().unwrap(),
                reason: opt(&r[4]),
                record: RecordView {
                    uri: r[5].into(),
                    cid: syntax::Cid::parse(&r[6]).unwrap(),
                    verification_signature: r[7].into(),
                    created_at: r[8].into(),
                },
                installation_key: opt(&r[9]),
                verified_at: opt(&r[10]),
                indexed_at: r[11].into(),
            }
        })
        .collect()
}

#[tokio::test]
async fn jsonl_and_csv_round_trip_to_list_links() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.sqlite");
    let store = seed(&db, 50).await;

    for (include_unverified, status) in [(false, Some(Status::Verified)), (true, None)] {
        let expected = list_all(&store, status).await;
        assert!(!expected.is_empty());

        let mut jsonl = Vec::new();
        let n = export_stream(&db, Format::Jsonl, include_unverified, &mut jsonl).unwrap();
        let parsed: Vec<LinkView> = String::from_utf8(jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(n as usize, expected.len());
        assert_eq!(parsed, expected);

        let mut csv = Vec::new();
        let n = export_stream(&db, Format::Csv, include_unverified, &mut csv).unwrap();
        assert_eq!(n as usize, expected.len());
        assert_eq!(from_csv(&csv), expected);
    }
}

#[tokio::test]
async fn export_skips_hidden_accounts_and_unverified_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.sqlite");
    let _store = seed(&db, 12).await;
    let mut out = Vec::new();
    export_stream(&db, Format::Jsonl, false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    // Verified: 0, 3 (hidden), 6, 9.
    assert_eq!(text.lines().count(), 3);
    assert!(!text.contains(&format!("did:plc:{:024}", 3)));
    assert!(text.lines().all(|l| l.contains("\"status\":\"verified\"")));
}

#[tokio::test]
async fn sqlite_snapshot_holds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.sqlite");
    let store = seed(&db, 30).await;
    let out = dir.path().join("export.sqlite");
    let n = export_file(&db, Format::Sqlite, true, &out).unwrap();
    let expected = list_all(&store, None).await;
    assert_eq!(n as usize, expected.len());

    // Every row, every column, equals what listLinks serves.
    let snapshot = rusqlite::Connection::open(&out).unwrap();
    let mut stmt = snapshot
        .prepare(
            "SELECT did, handle, inbox_id, status, reason, record_uri, record_cid,
                    verification_signature, created_at, installation_key, verified_at,
                    indexed_at FROM links ORDER BY did",
        )
        .unwrap();
    let rows: Vec<LinkView> = stmt
        .query_map([], |r| {
            Ok(LinkView {
                did: testkit::ids::did(&r.get::<_, String>(0)?),
                handle: r
                    .get::<_, Option<String>>(1)?
                    .map(|h| testkit::ids::handle(&h)),
                inbox_id: r.get(2)?,
                status: r.get::<_, String>(3)?.parse().unwrap(),
                reason: r.get(4)?,
                record: RecordView {
                    uri: r.get(5)?,
                    cid: syntax::Cid::parse(&r.get::<_, String>(6)?).unwrap(),
                    verification_signature: r.get(7)?,
                    created_at: r.get(8)?,
                },
                installation_key: r.get(9)?,
                verified_at: r.get(10)?,
                indexed_at: r.get(11)?,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, expected);
}

#[test]
fn sqlite_format_refuses_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let err = export_stream(
        &dir.path().join("x.sqlite"),
        Format::Sqlite,
        false,
        &mut out,
    );
    assert!(matches!(err, Err(export::ExportError::SqliteNeedsPath)));
}

#[test]
fn a_missing_index_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let err = export_stream(
        &dir.path().join("nope.sqlite"),
        Format::Jsonl,
        false,
        &mut out,
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope.sqlite"), "{err}");
}
