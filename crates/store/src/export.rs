//! Bulk export: every visible link read inside ONE read transaction (a consistent snapshot
//! while ingest goes on), streamed row by row so memory stays flat, and the SQLite snapshot
//! format researchers open in DuckDB or pandas.

use std::path::Path;

use rusqlite::{Connection, params};

use crate::conn::open_reader;
use crate::error::StoreError;
use crate::queries::{LINK_COLUMNS, link_from_row};
use crate::types::LinkView;

/// The table of a SQLite export: one row per link, the columns of the link view.
const SNAPSHOT_SCHEMA: &str = "CREATE TABLE links (
    did TEXT NOT NULL PRIMARY KEY,
    handle TEXT,
    inbox_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    record_uri TEXT NOT NULL,
    record_cid TEXT NOT NULL,
    verification_signature TEXT NOT NULL,
    created_at TEXT NOT NULL,
    installation_key TEXT,
    verified_at TEXT,
    indexed_at TEXT NOT NULL
);
CREATE INDEX links_by_inbox ON links (inbox_id);";

/// Calls `each` for every visible link (only verified ones unless `include_unverified`), in
/// DID order, from one consistent snapshot of the index at `index`. Returns the row count.
pub fn for_each_link(
    index: &Path,
    include_unverified: bool,
    mut each: impl FnMut(LinkView) -> std::io::Result<()>,
) -> Result<u64, StoreError> {
    if !index.exists() {
        return Err(StoreError::Missing(index.to_path_buf()));
    }
    let mut conn = open_reader(index)?;
    let tx = conn.transaction()?;
    let filter = if include_unverified {
        ""
    } else {
        "AND l.status = 0"
    };
    let mut stmt = tx.prepare(&format!(
        "SELECT {LINK_COLUMNS} FROM links l WHERE l.hidden = 0 {filter} ORDER BY l.did"
    ))?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        // A row whose identifiers do not parse is skipped (logged and counted).
        let Some(link) = crate::rows::skip_bad(link_from_row(row))? else {
            continue;
        };
        each(link).map_err(|source| StoreError::Io {
            what: "write an exported link".into(),
            source,
        })?;
        n += 1;
    }
    Ok(n)
}

/// Writes a SQLite snapshot of the links (the columns of the link view) into `out`, a new
/// empty file the caller created (exclusively, with its permissions) and renames into place
/// when this returns; a file that already holds a table is refused by SQLite. Returns the
/// row count.
pub fn export_sqlite(
    index: &Path,
    out: &Path,
    include_unverified: bool,
) -> Result<u64, StoreError> {
    let mut dst = Connection::open(out)?;
    dst.pragma_update(None, "journal_mode", "OFF")?;
    dst.pragma_update(None, "synchronous", "OFF")?;
    dst.execute_batch(SNAPSHOT_SCHEMA)?;
    let tx = dst.transaction()?;
    let n = {
        let mut insert = tx.prepare(
            "INSERT INTO links VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for_each_link(index, include_unverified, |l| {
            insert
                .execute(params![
                    l.did.as_str(),
                    l.handle.as_ref().map(syntax::Handle::as_str),
                    l.inbox_id,
                    l.status.as_str(),
                    l.reason,
                    l.record.uri,
                    l.record.cid.as_str(),
                    l.record.verification_signature,
                    l.record.created_at,
                    l.installation_key,
                    l.verified_at,
                    l.indexed_at,
                ])
                .map(drop)
                .map_err(std::io::Error::other)
        })?
    };
    tx.commit()?;
    dst.close().map_err(|(_, e)| e)?;
    Ok(n)
}
