//! Schema migrations: plain SQL files in `migrations/`, embedded at build time, applied in
//! order at start-up, one transaction each, recorded in `schema_migrations`.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::time::now_millis;

/// One migration: a version (the `NNNN` of its file name), a name and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Strictly increasing version number.
    pub version: i64,
    /// The file name without the number and extension.
    pub name: &'static str,
    /// The SQL, run in one transaction.
    pub sql: &'static str,
}

/// Every migration this binary knows, in order (each file of `/migrations`).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "link_handle",
        sql: include_str!("../../../migrations/0002_link_handle.sql"),
    },
    Migration {
        version: 3,
        name: "backfill",
        sql: include_str!("../../../migrations/0003_backfill.sql"),
    },
    Migration {
        version: 4,
        name: "recheck",
        sql: include_str!("../../../migrations/0004_recheck.sql"),
    },
    Migration {
        version: 5,
        name: "resync_queue",
        sql: include_str!("../../../migrations/0005_resync_queue.sql"),
    },
    Migration {
        version: 6,
        name: "bounded_reads",
        sql: include_str!("../../../migrations/0006_bounded_reads.sql"),
    },
    Migration {
        version: 7,
        name: "link_events",
        sql: include_str!("../../../migrations/0007_link_events.sql"),
    },
    Migration {
        version: 8,
        name: "compact",
        sql: include_str!("../../../migrations/0008_compact.sql"),
    },
    Migration {
        version: 9,
        name: "upstream",
        sql: include_str!("../../../migrations/0009_upstream.sql"),
    },
    Migration {
        version: 10,
        name: "handles_once",
        sql: include_str!("../../../migrations/0010_handles_once.sql"),
    },
    Migration {
        version: 11,
        name: "active_tier",
        sql: include_str!("../../../migrations/0011_active_tier.sql"),
    },
    Migration {
        version: 12,
        name: "no_in_lists",
        sql: include_str!("../../../migrations/0012_no_in_lists.sql"),
    },
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)";

/// The highest applied version, 0 for a fresh database.
pub(crate) fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    let has_table: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if !has_table {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

fn known_version(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

/// Migrations that rebuild the `links` table: the old table's pages are left free.
const REBUILDS_LINKS: &[i64] = &[8, 10, 12];

/// Whether the database has a `links` table with at least one row.
fn has_links(conn: &Connection) -> Result<bool, StoreError> {
    let table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'links'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if table.is_none() {
        return Ok(false);
    }
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM links)", [], |r| r.get(0))?)
}

/// Applies every migration newer than the database's version; refuses a newer database.
/// When a migration rebuilt a populated `links` table, the freed pages (as many as the old
/// table and its indexes held) are returned to the file system with `VACUUM`, once.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    conn.execute(CREATE_TABLE, [])?;
    crate::compact::register_functions(conn)?;
    let found = current_version(conn)?;
    let known = known_version(migrations);
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    let vacuum = has_links(conn)?
        && migrations
            .iter()
            .any(|m| m.version > found && REBUILDS_LINKS.contains(&m.version));
    for m in migrations.iter().filter(|m| m.version > found) {
        let fail = |source| StoreError::Migration {
            version: m.version,
            name: m.name,
            source,
        };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(m.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, now_millis()],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    if vacuum {
        let start = std::time::Instant::now();
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        tracing::info!(
            free_pages = free,
            secs = start.elapsed().as_secs_f64(),
            "vacuumed the index after rebuilding the links table"
        );
    }
    Ok(())
}

/// For read-only opens: the database must be exactly at this binary's version.
pub(crate) fn check_current(conn: &Connection) -> Result<(), StoreError> {
    let found = current_version(conn)?;
    let known = known_version(MIGRATIONS);
    match found.cmp(&known) {
        std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew { found, known }),
        std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld { found, known }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_conn() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::conn::open_writer(&dir.path().join("t.sqlite")).unwrap();
        (dir, conn)
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, embedded);
        for w in MIGRATIONS.windows(2) {
            assert!(w[0].version < w[1].version, "versions strictly increase");
        }
    }

    #[test]
    fn fresh_database_gets_every_migration_recorded() {
        let (_d, mut conn) = temp_conn();
        migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!(current_version(&conn).unwrap(), known_version(MIGRATIONS));
        // Running again is a no-op.
        migrate(&mut conn, MIGRATIONS).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
    }

    #[test]
    fn older_database_is_upgraded_in_place_keeping_its_data() {
        let (_d, mut conn) = temp_conn();
        migrate(&mut conn, MIGRATIONS).unwrap();
        conn.execute(
            "INSERT INTO accounts (did, active, status, updated_at) VALUES ('did:plc:a', 1, NULL, 0)",
            [],
        )
        .unwrap();
        let mut newer = MIGRATIONS.to_vec();
        let next = known_version(MIGRATIONS) + 1;
        newer.push(Migration {
            version: next,
            name: "test_extra",
            sql: "CREATE TABLE test_extra (x INTEGER); ALTER TABLE accounts ADD COLUMN note TEXT;",
        });
        migrate(&mut conn, &newer).unwrap();
        assert_eq!(current_version(&conn).unwrap(), next);
        let did: String = conn
            .query_row("SELECT did FROM accounts WHERE note IS NULL", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(did, "did:plc:a");
    }

    #[test]
    fn version_1_database_gets_handles_copied_onto_links() {
        let (_d, mut conn) = temp_conn();
        migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
        conn.execute_batch(
            "INSERT INTO links (did, inbox_id, record_cid, signature, created_at, status,
                indexed_at) VALUES ('did:plc:a', 'i', 'c', 's', 't', 'verified', 0),
                ('did:plc:b', 'i', 'c', 's', 't', 'pending', 0);
             INSERT INTO handles (did, handle, updated_at) VALUES ('did:plc:a', 'a.test', 0);",
        )
        .unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        let handles: Vec<Option<String>> = conn
            .prepare("SELECT handle FROM links ORDER BY did")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(handles, vec![Some("a.test".to_owned()), None]);
        let counts: i64 = conn
            .query_row("SELECT SUM(n) FROM link_counts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(counts, 2);
    }

    #[test]
    fn failing_migration_leaves_nothing_behind() {
        let (_d, mut conn) = temp_conn();
        migrate(&mut conn, MIGRATIONS).unwrap();
        let mut newer = MIGRATIONS.to_vec();
        newer.push(Migration {
            version: known_version(MIGRATIONS) + 1,
            name: "broken",
            sql: "CREATE TABLE half_done (x INTEGER); THIS IS NOT SQL;",
        });
        let err = migrate(&mut conn, &newer).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { name: "broken", .. }),
            "{err}"
        );
        assert_eq!(current_version(&conn).unwrap(), known_version(MIGRATIONS));
        let exists: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE name = 'half_done'",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap();
        assert_eq!(exists, None);
    }

    #[test]
    fn newer_database_is_refused_with_a_clear_error() {
        let (_d, mut conn) = temp_conn();
        migrate(&mut conn, MIGRATIONS).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
            [],
        )
        .unwrap();
        let err = migrate(&mut conn, MIGRATIONS).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { found: 999, .. }));
        assert!(err.to_string().contains("newer than this binary"), "{err}");
        assert!(check_current(&conn).is_err());
    }
}
