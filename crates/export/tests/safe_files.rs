//! Safe files: `export_file` never writes over the live index or through a link, writes via
//! an exclusive random temporary file renamed at the end, creates 0600 files, and
//! neutralises CSV cells a spreadsheet would run as formulas.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use export::{ExportError, Format, UnsafeTarget, export_file};
use store::{Batch, Change, RecordInput, Status, Store};

/// A store with two verified links whose signatures look like spreadsheet formulas.
async fn seed(dir: &Path) -> (PathBuf, Store) {
    let db = dir.join("index.sqlite");
    let store = Store::open(&db).unwrap();
    let mut changes = Vec::new();
    for (i, sig) in [
        "=HYPERLINK(\"http://x.example\")",
        "+c2ln",
        "'quoted",
        "c2ln",
    ]
    .iter()
    .enumerate()
    {
        let did = testkit::ids::did(&format!("did:plc:{i:024}"));
        let cid = testkit::ids::cid(&format!("bafyreicid{i}"));
        changes.push(Change::PutRecord {
            did: did.clone(),
            rev: None,
            record: RecordInput {
                cid: cid.clone(),
                inbox_id: format!("{:064x}", i),
                verification_signature: (*sig).to_owned(),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                malformed: None,
            },
        });
        changes.push(Change::Verdict {
            did,
            record_cid: cid,
            status: Status::Verified,
            reason: None,
            installation_key: Some("ab".repeat(32)),
        });
    }
    store.writer().apply(Batch::of(changes)).await.unwrap();
    (db, store)
}

fn unsafe_reason(r: Result<u64, ExportError>) -> UnsafeTarget {
    match r {
        Err(ExportError::Unsafe(u)) => u,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_live_index_and_its_side_files_are_refused_by_any_name() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _store) = seed(dir.path()).await;
    let before = std::fs::read(&db).unwrap();
    let wal = dir.path().join("index.sqlite-wal");
    assert!(wal.exists(), "the writer keeps a WAL open");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let hard = dir.path().join("hardlink.csv");
    std::fs::hard_link(&db, &hard).unwrap();
    for (out, what) in [
        (db.clone(), "database"),
        (sub.join("../index.sqlite"), "database"),
        (dir.path().join("./index.sqlite"), "database"),
        (wal.clone(), "-wal"),
        (dir.path().join("index.sqlite-shm"), "-shm"),
        (dir.path().join("index.sqlite-journal"), "-journal"),
        (hard.clone(), "database"),
    ] {
        for format in [Format::Csv, Format::Jsonl, Format::Sqlite] {
            let reason = unsafe_reason(export_file(&db, format, true, &out));
            assert_eq!(
                reason,
                UnsafeTarget::LiveIndex(out.clone(), what),
                "{out:?}"
            );
        }
    }
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!names(dir.path()).iter().any(|n| n.ends_with(".tmp")));
}

#[tokio::test]
async fn a_symlink_at_the_target_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _store) = seed(dir.path()).await;
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let link = dir.path().join("export.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    // A link to the index itself is refused as a link, before anything else.
    let to_index = dir.path().join("index-link.csv");
    std::os::unix::fs::symlink(&db, &to_index).unwrap();
    for out in [&link, &dangling, &to_index] {
        for format in [Format::Csv, Format::Jsonl, Format::Sqlite] {
            let reason = unsafe_reason(export_file(&db, format, true, out));
            assert_eq!(reason, UnsafeTarget::Symlink(out.clone()));
        }
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!dir.path().join("nowhere").exists());
    let dir_target = dir.path().join("adir");
    std::fs::create_dir(&dir_target).unwrap();
    let reason = unsafe_reason(export_file(&db, Format::Csv, true, &dir_target));
    assert_eq!(reason, UnsafeTarget::NotAFile(dir_target));
}

#[tokio::test]
async fn the_old_predictable_partial_name_is_not_used() {
    // Before: the SQLite export wrote `<out>.partial` (here `export.partial`), so a link
    // planted there redirected the write.
    let dir = tempfile::tempdir().unwrap();
    let (db, _store) = seed(dir.path()).await;
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("export.partial")).unwrap();
    let out = dir.path().join("export.sqlite");
    assert_eq!(export_file(&db, Format::Sqlite, true, &out).unwrap(), 4);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
}

#[tokio::test]
async fn exports_are_0600_replace_the_target_and_leave_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _store) = seed(dir.path()).await;
    for (format, name) in [
        (Format::Csv, "links.csv"),
        (Format::Jsonl, "links.jsonl"),
        (Format::Sqlite, "links.sqlite"),
    ] {
        let out = dir.path().join(name);
        // An existing regular file is replaced (by rename), whatever its mode was.
        std::fs::write(&out, b"old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(export_file(&db, format, true, &out).unwrap(), 4);
        assert_eq!(mode(&out), 0o600, "{name}");
        assert_ne!(std::fs::read(&out).unwrap(), b"old");
    }
    let leftovers: Vec<String> = names(dir.path())
        .into_iter()
        .filter(|n| n.starts_with('.') || n.ends_with(".tmp") || n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_failed_export_leaves_the_target_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("links.csv");
    std::fs::write(&out, b"keep").unwrap();
    let missing = dir.path().join("missing.sqlite");
    let err = export_file(&missing, Format::Csv, true, &out).unwrap_err();
    assert!(
        matches!(err, ExportError::Store(store::StoreError::Missing(_))),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep");
    assert_eq!(names(dir.path()), vec!["links.csv".to_owned()]);
}

#[tokio::test]
async fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _store) = seed(dir.path()).await;
    let out = dir.path().join("links.csv");
    export_file(&db, Format::Csv, true, &out).unwrap();
    let mut r = csv::Reader::from_path(&out).unwrap();
    let sigs: Vec<String> = r.records().map(|row| row.unwrap()[7].to_owned()).collect();
    assert_eq!(
        sigs,
        vec![
            "'=HYPERLINK(\"http://x.example\")".to_owned(),
            "'+c2ln".to_owned(),
            "''quoted".to_owned(),
            "c2ln".to_owned(),
        ]
    );
    // JSON lines keep the values as they are.
    let jsonl = dir.path().join("links.jsonl");
    export_file(&db, Format::Jsonl, true, &jsonl).unwrap();
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(text.contains("\"verificationSignature\":\"=HYPERLINK("));
}

#[test]
fn neutralise_cell_prefixes_exactly_the_formula_starts() {
    for c in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'x"] {
        assert_eq!(export::neutralise_cell(c), format!("'{c}"));
    }
    for c in ["", "did:plc:abc", "1=1", " =x", "a-b", "bafy"] {
        assert_eq!(export::neutralise_cell(c), c);
    }
}
