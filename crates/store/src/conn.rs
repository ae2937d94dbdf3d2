//! Opening connections: the pragmas are set here, per connection, never in migrations.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a connection waits on a lock before SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection (every query of the store fits).
const STATEMENT_CACHE: usize = 64;
/// The writer's page cache (KiB) unless the store is told otherwise
/// ([`crate::StoreOptions::with_cache_mib`]).
pub(crate) const WRITER_CACHE_KIB: u32 = 8 * 1024;
/// A reader connection's page cache (KiB) unless told otherwise. Readers map the index, so
/// their cache only holds pages read from the WAL.
pub(crate) const READER_CACHE_KIB: u32 = 2 * 1024;

/// Sets a connection's page cache to `kib` KiB (SQLite's negative `cache_size`). The cache
/// fills up to that bound as the index grows, and is resident memory from then on.
pub(crate) fn set_cache_kib(conn: &Connection, kib: u32) -> rusqlite::Result<()> {
    conn.pragma_update(None, "cache_size", -i64::from(kib.max(64)))
}

/// Creates the database file, empty, with `mode` whatever the umask, unless it exists (an
/// existing file keeps the mode its operator gave it). SQLite would create it 0644; it
/// creates the `-wal` and `-shm` files with the mode of the database file.
fn create_private(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let special = path
        .to_str()
        .is_some_and(|s| s.starts_with("file:") || s == ":memory:" || s.is_empty());
    if special {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
    {
        Ok(f) => f.set_permissions(std::fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens (creating if needed, with [`crate::mode::file_mode`]: 0600, or 0640 under
/// systemd) the one read-write connection.
pub(crate) fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    open_writer_with_mode(path, crate::mode::file_mode())
}

/// [`open_writer`], creating a new database with `mode`.
fn open_writer_with_mode(path: &Path, mode: u32) -> rusqlite::Result<Connection> {
    create_private(path, mode).map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!("create {}: {e}", path.display())),
        )
    })?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Only takes effect when the file is created: larger pages make the B-trees shallower,
    // which is most of the cost of a point lookup.
    conn.pragma_update(None, "page_size", 16_384)?;
    // journal_mode returns a row; pragma_update tolerates that.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    set_cache_kib(&conn, WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Truncate the WAL back to this size after checkpoints, so it does not stay huge after a
    // burst (backfill).
    conn.pragma_update(None, "journal_size_limit", 64_i64 * 1024 * 1024)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The memory map of a reader connection (the whole index).
pub(crate) const READER_MMAP: i64 = 1 << 40;

/// Opens one read-only connection of the reader pool.
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    set_cache_kib(&conn, READER_CACHE_KIB)?;
    // Map the whole index (SQLite caps this at its compile-time limit, 2 GiB by default):
    // point lookups then read pages in place instead of copying them through pread.
    conn.pragma_update(None, "mmap_size", READER_MMAP)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    /// Creates a database with `want` and checks it, its -wal and its -shm.
    fn assert_created_with(want: u32, open: impl Fn(&Path) -> rusqlite::Result<Connection>) {
        // SQLite alone creates 0644 & !umask; the store creates the file first, and SQLite
        // gives the -wal and -shm the database file's mode.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let conn = open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let p = dir.path().join(format!("index.sqlite{suffix}"));
            assert_eq!(mode(&p), want, "{}", p.display());
        }
    }

    #[test]
    fn a_new_database_and_its_wal_and_shm_are_private() {
        use crate::mode::{PRIVATE_MODE, SYSTEMD_ENV};
        // The test runner is not a systemd service: the process-wide choice is 0600.
        if std::env::var_os(SYSTEMD_ENV).is_none() {
            assert_created_with(PRIVATE_MODE, open_writer);
        }
        assert_created_with(PRIVATE_MODE, |p| open_writer_with_mode(p, PRIVATE_MODE));
    }

    #[test]
    fn under_systemd_the_database_and_its_wal_and_shm_are_group_readable() {
        use crate::mode::SERVICE_MODE;
        assert_created_with(SERVICE_MODE, |p| open_writer_with_mode(p, SERVICE_MODE));
    }

    #[test]
    fn an_existing_database_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        drop(open_writer(&path).unwrap());
        assert_eq!(mode(&path), 0o640);
    }
}
