//! Migration 0008 converts a populated 0006-era index in place: every link view, rendered
//! before and after, is the same byte for byte, and the counters agree.

use std::collections::BTreeMap;

use base64::Engine as _;
use rusqlite::{Connection, params};

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
        1 => "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG".to_owned(),
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
            cid: row.get(5)?,
            verification_signature: row.get(6)?,
            created_at: row.get(7)?,
        },
        handle: row.get(1)?,
        inbox_id: row.get(2)?,
        status: row.get::<_, String>(3)?.parse().unwrap(),
        reason: row.get(4)?,
        installation_key: row.get(8)?,
        verified_at: row.get::<_, Option<i64>>(9)?.map(format_unix_millis),
        indexed_at: format_unix_millis(row.get(10)?),
        did,
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

#[test]
fn migration_0008_converts_a_populated_index_in_place_keeping_every_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = crate::conn::open_writer(&dir.path().join("old.sqlite")).unwrap();
    let v6: Vec<_> = crate::MIGRATIONS
        .iter()
        .copied()
        .filter(|m| m.version <= 6)
        .collect();
    crate::migrate::migrate(&mut conn, &v6).unwrap();
    const N: u64 = 600;
    {
        let tx = conn.transaction().unwrap();
        let mut insert = tx
            .prepare(
                "INSERT OR IGNORE INTO links (did, inbox_id, record_cid, signature, created_at,
                    status, reason, installation_key, verified_at, indexed_at, not_before,
                    hidden, handle) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
            )
            .unwrap();
        for i in 0..N {
            let r = old_row(i);
            insert
                .execute(params![
                    r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12
                ])
                .unwrap();
        }
        drop(insert);
        tx.commit().unwrap();
    }
    let before: BTreeMap<String, LinkView> = conn
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
    let after: BTreeMap<String, LinkView> = after.into_iter().map(|v| (v.did.clone(), v)).collect();
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
