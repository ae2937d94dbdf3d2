//! Migrations 0008 (binary columns) and 0010 (handles stored once) convert a populated index
//! in place: every link view, rendered before and after, is the same byte for byte, every
//! handle lookup answers the same, and the counters agree.

use std::collections::BTreeMap;

use base64::Engine as _;
use rusqlite::{Connection, OptionalExtension, params};

use crate::queries;
use crate::time::format_unix_millis;
use crate::types::{LinkView, RecordView};

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn bytes(seed: u64, n: usize) -> Vec<u8> {
    (0..n).map(|i| mix(seed * 131 + i as u64) as u8).collect()
}

fn b32(b: &[u8]) -> String {
    const A: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::from("b");
    let (mut acc, mut bits) = (0u32, 0);
    for &x in b {
        acc = (acc << 8) | u32::from(x);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(A[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(A[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// A varied 0006-era row: canonical and non-canonical values in every column.
#[allow(clippy::type_complexity)]
fn old_row(
    i: u64,
) -> (
    String,
    String,
    String,
    String,
    String,
    &'static str,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    i64,
    Option<String>,
) {
    let r = mix(i);
    let did = match r % 7 {
        0 => format!("did:web:host{i}.example.com"),
        1 => format!("did:plc:short{i}"),
        _ => {
            const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
            let id: String = (0..24)
                .map(|k| char::from(A[(mix(i * 24 + k) % 32) as usize]))
                .collect();
            format!("did:plc:{id}")
        }
    };
    let inbox = match (r >> 3) % 6 {
        0 => "NOT-HEX".to_owned(),
        1 => hex::encode(bytes(i, 32)).to_uppercase(),
        2 => String::new(),
        _ => hex::encode(bytes(i, 32)),
    };
    let cid = match (r >> 6) % 5 {
        0 => format!("bafyreib{:051x}", u128::from(r) * 7),
        // Upper-case multibase base32: a CID by the syntax, stored as text (not `b...`).
        1 => b32(&[&[1u8, 0x71, 0x12, 0x20][..], &bytes(i + 1, 32)].concat()).to_uppercase(),
        _ => b32(&[&[1u8, 0x71, 0x12, 0x20][..], &bytes(i + 1, 32)].concat()),
    };
    let sig = match (r >> 9) % 5 {
        0 => "c2lnbmF0dXJl".to_owned(),
        1 => base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes(i + 2, 64)),
        2 => "not base64 \"quoted\"\n".to_owned(),
        _ => base64::engine::general_purpose::STANDARD.encode(bytes(i + 2, 64)),
    };
    let created = match (r >> 12) % 4 {
        0 => "2024-05-06T07:08:09Z".to_owned(),
        1 => "2024-05-06T07:08:09.123+02:00".to_owned(),
        _ => format_unix_millis(1_700_000_000_000 + (r % 100_000_000_000) as i64),
    };
    let status = ["verified", "pending", "invalid"][((r >> 15) % 3) as usize];
    let reason = match (status, (r >> 17) % 6) {
        ("verified", _) => None,
        (_, 0) => Some("record is not a DAG-CBOR map: \"é\"".to_owned()),
        (_, 1) => None,
        (_, k) => Some(
            [
                "inbox_not_found",
                "inbox_state_invalid",
                "inbox_id_mismatch",
                "xmtp_unavailable",
            ][(k - 2) as usize]
                .to_owned(),
        ),
    };
    let key = match (status, (r >> 20) % 4) {
        ("verified", 0) => Some("ABCDEF".to_owned()),
        ("verified", _) => Some(hex::encode(bytes(i + 3, 32))),
        _ => None,
    };
    let verified_at = (status == "verified").then_some(1_700_000_000_000 + (r % 1000) as i64);
    let hidden = i64::from((r >> 23).is_multiple_of(9));
    let handle = (!(r >> 25).is_multiple_of(3)).then(|| format!("u{i}.test"));
    (
        did,
        inbox,
        cid,
        sig,
        created,
        status,
        reason,
        key,
        verified_at,
        1_790_000_000_000 + i as i64,
        (r % 3) as i64,
        hidden,
        handle,
    )
}

/// The link view of a 0006-era row, rendered as the store did before 0008.
fn old_view(row: &rusqlite::Row<'_>) -> rusqlite::Result<LinkView> {
    let did: String = row.get(0)?;
    Ok(LinkView {
        record: RecordView {
            uri: format!("at://{did}/org.xmtp.inbox/self"),
            cid: syntax::Cid::parse(&row.get::<_, String>(5)?).unwrap(),
            verification_signature: row.get(6)?,
            created_at: row.get(7)?,
        },
        handle: row
            .get::<_, Option<String>>(1)?
            .map(|h| syntax::Handle::parse(&h).unwrap()),
        inbox_id: row.get(2)?,
        status: row.get::<_, String>(3)?.parse().unwrap(),
        reason: row.get(4)?,
        installation_key: row.get(8)?,
        verified_at: row.get::<_, Option<i64>>(9)?.map(format_unix_millis),
        indexed_at: format_unix_millis(row.get(10)?),
        did: syntax::Did::parse(&did).unwrap(),
    })
}

const OLD_SELECT: &str = "SELECT did, handle, inbox_id, status, reason, record_cid, signature,
    created_at, installation_key, verified_at, indexed_at FROM links WHERE hidden = 0";

fn old_counts(conn: &Connection) -> BTreeMap<String, i64> {
    conn.prepare("SELECT status, n FROM link_counts")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Migrations up to and including `version`.
pub(super) fn up_to(version: i64) -> Vec<crate::Migration> {
    crate::MIGRATIONS
        .iter()
        .copied()
        .filter(|m| m.version <= version)
        .collect()
}

const N: u64 = 600;

/// A populated 0006-era index, kept consistent the way the writer kept it: each link's handle
/// is also in `handles`, hidden links have an inactive account; plus handles of DIDs without
/// a link (some of them inactive).
pub(super) fn v6_index(dir: &tempfile::TempDir) -> Connection {
    let mut conn = crate::conn::open_writer(&dir.path().join("old.sqlite")).unwrap();
    crate::migrate::migrate(&mut conn, &up_to(6)).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT OR IGNORE INTO links (did, inbox_id, record_cid, signature, created_at,
                    status, reason, installation_key, verified_at, indexed_at, not_before,
                    hidden, handle) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
            )
            .unwrap();
        let mut handle = tx
            .prepare("INSERT INTO handles (did, handle, updated_at) VALUES (?1, ?2, ?3)")
            .unwrap();
        let mut account = tx
            .prepare(
                "INSERT OR IGNORE INTO accounts (did, active, status, updated_at)
                 VALUES (?1, 0, 'takendown', 0)",
            )
            .unwrap();
        for i in 0..N {
            let r = old_row(i);
            if insert
                .execute(params![
                    r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12
                ])
                .unwrap()
                == 0
            {
                continue;
            }
            if let Some(h) = &r.12 {
                handle
                    .execute(params![
                        r.0,
                        h,
                        1_700_000_000_000 + (mix(i) % 1_000_000) as i64
                    ])
                    .unwrap();
            }
            if r.11 == 1 {
                account.execute([&r.0]).unwrap();
            }
        }
        // Handles of DIDs without a link: packed did:plc and other DIDs, some inactive.
        for i in 0..60u64 {
            let did = if i % 2 == 0 {
                let id: String = (0..24)
                    .map(|k| {
                        char::from(
                            b"234567abcdefghijklmnopqrstuvwxyz"[(mix(i * 977 + k) % 32) as usize],
                        )
                    })
                    .collect();
                format!("did:plc:{id}")
            } else {
                format!("did:web:nolink{i}.example.com")
            };
            handle
                .execute(params![
                    did,
                    format!("nolink{i}.test"),
                    1_700_000_000_000 + (mix(i + 10_000) % 1_000_000) as i64
                ])
                .unwrap();
            if i % 5 == 0 {
                account.execute([&did]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    conn
}

#[test]
fn migration_0008_converts_a_populated_index_in_place_keeping_every_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = v6_index(&dir);
    let before: BTreeMap<syntax::Did, LinkView> = conn
        .prepare(OLD_SELECT)
        .unwrap()
        .query_map([], old_view)
        .unwrap()
        .map(|v| v.map(|v| (v.did.clone(), v)))
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let rows_before: i64 = conn
        .query_row("SELECT COUNT(*) FROM links", [], |r| r.get(0))
        .unwrap();
    let counts_before = old_counts(&conn);
    assert!(before.len() > 400, "{}", before.len());

    crate::migrate::migrate(&mut conn, crate::MIGRATIONS).unwrap();

    let (after, next) = queries::list_links(&conn, None, None, 10_000).unwrap();
    assert_eq!(next, None);
    let after: BTreeMap<syntax::Did, LinkView> =
        after.into_iter().map(|v| (v.did.clone(), v)).collect();
    assert_eq!(after.len(), before.len());
    for (did, old) in &before {
        assert_eq!(after.get(did), Some(old), "{did}");
        let (status, json) = queries::link_json_by_did(&conn, did).unwrap().unwrap();
        assert_eq!(status, old.status);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            serde_json::to_string(old).unwrap(),
            "{did}"
        );
    }
    let rows_after: i64 = conn
        .query_row("SELECT COUNT(*) FROM links", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows_after, rows_before);
    let counts = queries::counts(&conn).unwrap();
    assert_eq!(counts.verified as i64, counts_before["verified"]);
    assert_eq!(counts.pending as i64, counts_before["pending"]);
    assert_eq!(counts.invalid as i64, counts_before["invalid"]);
    // Canonical values did become binary: the compact form is in use, not the text.
    let blobs: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM links WHERE typeof(did) = 'blob' AND length(did) = 16
               AND typeof(record_cid) = 'blob' AND typeof(signature) = 'blob'
               AND typeof(inbox_id) = 'blob' AND typeof(created_at) = 'integer'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(blobs > 50, "{blobs}");
}

/// What the handle reads answered before 0010, with the SQL of the time.
#[derive(Debug, PartialEq)]
pub(super) struct HandleReads {
    by_handle: Vec<(String, Option<syntax::Did>)>,
    due: Vec<syntax::Did>,
    all: Vec<syntax::Handle>,
}

fn did_col(r: &rusqlite::Row<'_>) -> rusqlite::Result<syntax::Did> {
    Ok(syntax::Did::parse(&r.get::<_, String>(0)?).unwrap())
}

fn handle_reads_v9(conn: &Connection) -> HandleReads {
    let handles: Vec<String> = conn
        .prepare("SELECT handle FROM handles ORDER BY handle")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let by_handle = handles
        .iter()
        .map(|h| {
            let did = conn
                .query_row(
                    "SELECT h.did FROM handles h WHERE h.handle = ?1 AND NOT EXISTS
                        (SELECT 1 FROM accounts a WHERE a.did = h.did AND a.active = 0)",
                    [h],
                    did_col,
                )
                .optional()
                .unwrap();
            (h.clone(), did)
        })
        .collect();
    let due = conn
        .prepare("SELECT did FROM handles WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2")
        .unwrap()
        .query_map(params![1_700_000_500_000_i64, 10_000], did_col)
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    HandleReads {
        by_handle,
        due,
        all: handles
            .iter()
            .map(|h| syntax::Handle::parse(h).unwrap())
            .collect(),
    }
}

pub(super) fn handle_reads_now(conn: &Connection, handles: &[syntax::Handle]) -> HandleReads {
    let mut all = crate::handles::all(conn).unwrap();
    all.sort();
    HandleReads {
        by_handle: handles
            .iter()
            .map(|h| {
                (
                    h.to_string(),
                    queries::did_by_handle(conn, &h.to_uppercase()).unwrap(),
                )
            })
            .collect(),
        due: crate::handles::due(conn, 1_700_000_500_000, 10_000).unwrap(),
        all,
    }
}

/// Every link's view as `queries` and the outbox snapshot render it (hidden links included).
pub(super) fn every_view(
    conn: &Connection,
) -> BTreeMap<String, (Vec<u8>, crate::outbox::Snapshot)> {
    let dids: Vec<String> = conn
        .prepare("SELECT did FROM links")
        .unwrap()
        .query_map([], |r| crate::compact::did_at(r, 0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    dids.into_iter()
        .map(|did| {
            let json = queries::link_json_by_did(conn, &did)
                .unwrap()
                .map(|(_, j)| j)
                .unwrap_or_default();
            let change = crate::Change::DeleteRecord {
                did: syntax::Did::parse(&did).unwrap(),
                rev: None,
            };
            let mut snap = crate::outbox::before(conn, &change).unwrap();
            (did, (json, snap.watched.pop().unwrap().1))
        })
        .collect()
}

#[test]
fn migration_0010_stores_each_handle_once_keeping_every_view_and_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = v6_index(&dir);
    crate::migrate::migrate(&mut conn, &up_to(9)).unwrap();
    let views_before = every_view(&conn);
    let (listed_before, _) = queries::list_links(&conn, None, None, 10_000).unwrap();
    let reads_before = handle_reads_v9(&conn);
    let counts_before = queries::counts(&conn).unwrap();
    let handles_before: i64 = conn
        .query_row("SELECT COUNT(*) FROM handles", [], |r| r.get(0))
        .unwrap();
    assert!(views_before.len() > 400, "{}", views_before.len());
    assert!(reads_before.by_handle.iter().any(|(_, d)| d.is_none()));
    assert!(reads_before.due.len() > 50, "{}", reads_before.due.len());

    crate::migrate::migrate(&mut conn, crate::MIGRATIONS).unwrap();

    let views_after = every_view(&conn);
    assert_eq!(views_after.len(), views_before.len());
    for (did, before) in &views_before {
        assert_eq!(views_after.get(did), Some(before), "{did}");
    }
    let (listed_after, _) = queries::list_links(&conn, None, None, 10_000).unwrap();
    assert_eq!(listed_after, listed_before);
    let handles: Vec<syntax::Handle> = reads_before
        .by_handle
        .iter()
        .map(|(h, _)| syntax::Handle::parse(h).unwrap())
        .collect();
    assert_eq!(handle_reads_now(&conn, &handles), reads_before);
    assert_eq!(queries::counts(&conn).unwrap(), counts_before);
    // Stored once: the old table is gone, each handle is on its link or unlinked.
    let (on_links, unlinked, both): (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM links WHERE handle IS NOT NULL),
                    (SELECT COUNT(*) FROM unlinked_handles),
                    (SELECT COUNT(*) FROM unlinked_handles u JOIN links l ON l.did = u.did)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(on_links + unlinked, handles_before);
    assert_eq!((unlinked, both), (60, 0));
    let old_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE name = 'handles'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap();
    assert_eq!(old_table, None);
    // The rebuilt table's old pages went back to the file system.
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert_eq!(free, 0);
}

/// 0010 at scale: `SIZE_V9_DB=<copy of a query_load index> cargo nextest run -p store
/// --run-ignored only migration_0010_at_scale --no-capture` turns the copy back into the 0009
/// handle layout (a `handles` table keyed by text DIDs, its two indexes), then times the
/// migration and prints the file size before and after.
#[test]
#[ignore = "needs SIZE_V9_DB, a copy of a seeded query_load index"]
#[allow(clippy::print_stdout)] // a manual measurement: printing the figures is its purpose
fn migration_0010_at_scale() {
    let path = std::path::PathBuf::from(std::env::var("SIZE_V9_DB").unwrap());
    let mut conn = crate::conn::open_writer(&path).unwrap();
    crate::compact::register_functions(&conn).unwrap();
    conn.execute_batch(
        "CREATE TABLE handles (did TEXT NOT NULL PRIMARY KEY, handle TEXT NOT NULL UNIQUE,
            updated_at INTEGER NOT NULL) WITHOUT ROWID;
         INSERT INTO handles SELECT did_text(did), handle, handle_at FROM links
            WHERE handle IS NOT NULL ORDER BY 1;
         INSERT INTO handles SELECT did_text(did), handle, updated_at FROM unlinked_handles;
         CREATE INDEX handles_by_age ON handles (updated_at);
         DROP TABLE unlinked_handles;
         DROP INDEX links_by_handle;
         DROP INDEX links_handle_age;
         DELETE FROM schema_migrations WHERE version = 10;
         VACUUM;",
    )
    .unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let size = || std::fs::metadata(&path).unwrap().len();
    let links: i64 = conn
        .query_row("SELECT COUNT(*) FROM links", [], |r| r.get(0))
        .unwrap();
    let before = size();
    let start = std::time::Instant::now();
    crate::migrate::migrate(&mut conn, crate::MIGRATIONS).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let after = size();
    println!(
        "{links} links: 0009 layout {before} B ({} B/link), 0010 {after} B ({} B/link), \
         migration incl. VACUUM {secs:.1} s",
        before / links as u64,
        after / links as u64
    );
    let on_links: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM links WHERE handle IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(on_links, links);
}
