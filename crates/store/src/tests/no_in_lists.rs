//! Migration 0012 (no `IN` lists on the write path) converts a populated 0011 index in
//! place: every view, listing, handle lookup, verifier queue and backfill state answers the
//! same, the checks still refuse what they refused, and the inserts no longer build an
//! ephemeral table.

use rusqlite::{Connection, params};

use super::compact::{every_view, handle_reads_now, up_to, v6_index};
use crate::queries;

/// Everything the verifier would check, far in the future: every queue in full.
fn queues(conn: &Connection) -> Vec<crate::CheckItem> {
    queries::links_to_check(conn, i64::MAX / 2000, i64::MAX / 2000, 100_000).unwrap()
}

fn backfill_states(conn: &Connection) -> Vec<(String, String, i64)> {
    conn.prepare("SELECT did, state, attempts FROM backfill_repos ORDER BY did")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The bytecode of `sql` opens an ephemeral table (what an `IN` list of constants costs).
fn opens_ephemeral(conn: &Connection, sql: &str) -> bool {
    let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
    let ops: Vec<String> = stmt
        .query_map([], |r| r.get(1))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    ops.iter().any(|op| op == "OpenEphemeral")
}

const INSERT_LINK: &str = "INSERT INTO links (did, inbox_id, record_cid, signature,
    created_at, status, indexed_at) VALUES (x'01', x'00', x'00', x'00', 0, 1, 0)";
const INSERT_REPO: &str =
    "INSERT INTO backfill_repos (did, state, updated_at) VALUES ('did:plc:x', 'pending', 0)";

#[test]
fn migration_0012_keeps_every_view_queue_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = v6_index(&dir);
    crate::migrate::migrate(&mut conn, &up_to(11)).unwrap();
    // Backfill progress in every state.
    for (i, state) in ["pending", "indexed", "absent", "failed"]
        .iter()
        .enumerate()
    {
        conn.execute(
            "INSERT INTO backfill_repos (did, state, attempts, updated_at) VALUES (?1, ?2, ?3, 0)",
            params![format!("did:plc:repo{i}"), state, i as i64],
        )
        .unwrap();
    }
    assert!(opens_ephemeral(&conn, INSERT_LINK));
    assert!(opens_ephemeral(&conn, INSERT_REPO));
    let views_before = every_view(&conn);
    let (listed_before, _) = queries::list_links(&conn, None, None, 10_000).unwrap();
    let mut handles = crate::handles::all(&conn).unwrap();
    handles.sort();
    let reads_before = handle_reads_now(&conn, &handles);
    let counts_before = queries::counts(&conn).unwrap();
    let queues_before = queues(&conn);
    let backfill_before = backfill_states(&conn);
    let rechecked: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM links WHERE status = 2 AND reason IN (3, 4, 5)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(rechecked > 10, "{rechecked}");
    assert!(queues_before.len() > 100, "{}", queues_before.len());

    crate::migrate::migrate(&mut conn, crate::MIGRATIONS).unwrap();

    assert_eq!(every_view(&conn), views_before);
    let (listed_after, _) = queries::list_links(&conn, None, None, 10_000).unwrap();
    assert_eq!(listed_after, listed_before);
    assert_eq!(handle_reads_now(&conn, &handles), reads_before);
    assert_eq!(queries::counts(&conn).unwrap(), counts_before);
    assert_eq!(queues(&conn), queues_before);
    assert_eq!(backfill_states(&conn), backfill_before);
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert_eq!(free, 0);

    // No ephemeral table per insert any more; the checks refuse the same values.
    assert!(!opens_ephemeral(&conn, INSERT_LINK));
    assert!(!opens_ephemeral(&conn, INSERT_REPO));
    for sql in [
        INSERT_LINK.replace(", 1, 0)", ", 3, 0)"),
        INSERT_LINK.replace(", 1, 0)", ", 1.5, 0)"),
        INSERT_REPO.replace("'pending'", "'done'"),
    ] {
        let err = conn.execute(&sql, []).unwrap_err().to_string();
        assert!(err.contains("CHECK constraint failed"), "{sql}: {err}");
    }
    let hidden = INSERT_LINK
        .replace("indexed_at)", "indexed_at, hidden)")
        .replace(", 1, 0)", ", 1, 0, 2)");
    let err = conn.execute(&hidden, []).unwrap_err().to_string();
    assert!(err.contains("CHECK constraint failed"), "{err}");
}

#[test]
fn the_recheck_query_reads_its_partial_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = crate::conn::open_writer(&dir.path().join("plan.sqlite")).unwrap();
    crate::migrate::migrate(&mut conn, crate::MIGRATIONS).unwrap();
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT did FROM links WHERE status = 2
               AND reason BETWEEN 3 AND 5 AND not_before <= ?1 ORDER BY not_before, did LIMIT ?2",
        )
        .unwrap()
        .query_map(params![0, 10], |r| r.get(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("links_invalid_recheck"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}
