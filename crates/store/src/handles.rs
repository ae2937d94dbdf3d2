//! The verified handles (migration 0010): each stored once, on the DID's link (`links.handle`,
//! `links.handle_at`) or, for a DID without a link, in `unlinked_handles`. A handle belongs to
//! at most one DID across both. This module holds the SQL that reads them, and the writer's
//! side that keeps a handle with its DID when the link comes and goes.

use rusqlite::{Connection, OptionalExtension, params};

use syntax::Did;

use crate::compact::{did_at, did_key};
use crate::error::StoreError;
use crate::reader::Reader;

/// The DID (other than `did`) that holds `handle` (lowercase), hidden or not.
pub(crate) fn holder_other_than(
    conn: &Connection,
    handle: &str,
    did: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT did FROM links WHERE handle = ?1 AND did != ?2
         UNION ALL SELECT did FROM unlinked_handles WHERE handle = ?1 AND did != ?2",
    )?
    .query_row(params![handle, did_key(did)], |r| did_at(r, 0))
    .optional()
}

/// A `did` column (stored key) as a [`Did`]; a [`crate::rows`] bad row when it does not parse.
fn did_of(table: &'static str, r: &rusqlite::Row<'_>) -> rusqlite::Result<Did> {
    crate::rows::parse((table, "did"), 0, &did_at(r, 0)?, Did::parse)
}

/// The DID whose verified handle is `handle` (any case), hidden accounts excluded; a stored
/// DID that does not parse reads as none (logged and counted).
pub(crate) fn did_by_handle(conn: &Connection, handle: &str) -> rusqlite::Result<Option<Did>> {
    let handle = handle.to_ascii_lowercase();
    let handle = handle.as_str();
    let linked = conn
        .prepare_cached("SELECT did FROM links WHERE handle = ?1 AND hidden = 0")?
        .query_row([handle], |r| did_of("links", r))
        .optional();
    if let Some(linked) = crate::rows::skip_bad_opt(linked)? {
        return Ok(Some(linked));
    }
    let unlinked = conn
        .prepare_cached("SELECT did FROM unlinked_handles WHERE handle = ?1")?
        .query_row([handle], |r| did_of("unlinked_handles", r))
        .optional();
    let Some(did) = crate::rows::skip_bad_opt(unlinked)? else {
        return Ok(None);
    };
    let hidden = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE did = ?1 AND active = 0")?
        .exists([did.as_str()])?;
    Ok((!hidden).then_some(did))
}

/// Sets (or, with `None`, clears) the verified handle of `did`, verified at `now_ms`. A DID
/// that held `handle` before loses it (the handle now verifies to `did`).
pub(crate) fn set(
    conn: &Connection,
    did: &str,
    handle: Option<&str>,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let Some(handle) = handle else {
        clear(conn, &did_key(did))?;
        return Ok(());
    };
    let handle = handle.to_ascii_lowercase();
    if let Some(previous) = holder_other_than(conn, &handle, did)? {
        clear(conn, &did_key(&previous))?;
    }
    let key = did_key(did);
    let on_link = conn
        .prepare_cached("UPDATE links SET handle = ?2, handle_at = ?3 WHERE did = ?1")?
        .execute(params![key, handle, now_ms])?;
    if on_link == 0 {
        conn.prepare_cached(
            "INSERT INTO unlinked_handles (did, handle, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (did) DO UPDATE SET handle = excluded.handle,
                updated_at = excluded.updated_at",
        )?
        .execute(params![key, handle, now_ms])?;
    }
    Ok(())
}

/// Drops the handle of the DID with stored key `key`, wherever it is.
fn clear(conn: &Connection, key: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE links SET handle = NULL, handle_at = NULL WHERE did = ?1 AND handle IS NOT NULL",
    )?
    .execute([key])?;
    conn.prepare_cached("DELETE FROM unlinked_handles WHERE did = ?1")?
        .execute([key])?;
    Ok(())
}

/// Before the link of `key` is deleted: its handle stays the DID's, without the link.
pub(crate) fn unlink(conn: &Connection, key: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO unlinked_handles (did, handle, updated_at)
         SELECT did, handle, handle_at FROM links WHERE did = ?1 AND handle IS NOT NULL
         ON CONFLICT (did) DO UPDATE SET handle = excluded.handle,
            updated_at = excluded.updated_at",
    )?
    .execute([key])?;
    Ok(())
}

/// Drops the handle of a deleted account (with or without a link).
pub(crate) fn forget(conn: &Connection, key: &[u8]) -> rusqlite::Result<()> {
    clear(conn, key)
}

#[cfg(test)]
/// Every handle the index holds (lowercase).
pub(crate) fn all(conn: &Connection) -> rusqlite::Result<Vec<syntax::Handle>> {
    conn.prepare_cached(
        "SELECT handle FROM links WHERE handle IS NOT NULL
         UNION ALL SELECT handle FROM unlinked_handles",
    )?
    .query_map([], |r| {
        crate::rows::parse(
            ("links", "handle"),
            0,
            r.get_ref(0)?.as_str()?,
            syntax::Handle::parse,
        )
    })?
    .collect()
}

/// DIDs whose handle was last verified before `before_ms`, oldest first, at most `limit`.
pub(crate) fn due(conn: &Connection, before_ms: i64, limit: usize) -> rusqlite::Result<Vec<Did>> {
    crate::rows::collect_good(
        conn.prepare_cached(
            "SELECT did, handle_at AS at FROM links WHERE handle_at < ?1
             UNION ALL SELECT did, updated_at AS at FROM unlinked_handles WHERE updated_at < ?1
             ORDER BY at LIMIT ?2",
        )?
        .query_map(params![before_ms, limit as i64], |r| did_of("handles", r))?,
    )
}

/// Visible links with no handle, in DID key order after `after` (exclusive), at most
/// `limit`: the DIDs whose handle check may have been lost (it is queued only in memory
/// after its link lands, so a crash in between would otherwise leave it unchecked until the
/// next `#identity` or record change).
pub(crate) fn without_handle(
    conn: &Connection,
    after: Option<&str>,
    limit: usize,
) -> rusqlite::Result<Vec<Did>> {
    let after = after.map(did_key).unwrap_or_default();
    crate::rows::collect_good(
        conn.prepare_cached(
            "SELECT did FROM links WHERE did > ?1 AND handle IS NULL AND hidden = 0
             ORDER BY did LIMIT ?2",
        )?
        .query_map(params![after, limit as i64], |r| did_of("links", r))?,
    )
}

/// The newest handle verification time, `None` when there is no handle.
pub(crate) fn newest_ms(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT MAX(m) FROM (
           SELECT MAX(handle_at) AS m FROM links WHERE handle_at IS NOT NULL
           UNION ALL SELECT MAX(updated_at) FROM unlinked_handles)",
    )?
    .query_row([], |r| r.get(0))
}

impl Reader {
    #[cfg(test)]
    /// Every handle the index holds (lowercase), for the firehose's takeover check.
    pub async fn all_handles(&self) -> Result<Vec<syntax::Handle>, StoreError> {
        self.run(|c| {
            // A whole-index scan: through the bounded page cache, not the memory map (see
            // `queries::tracked_dids`).
            c.pragma_update(None, "mmap_size", 0)?;
            let all = all(c);
            c.pragma_update(None, "mmap_size", crate::conn::READER_MMAP)?;
            Ok(all?)
        })
        .await
    }

    /// DIDs whose handle was last verified before `before_ms` (unix ms), oldest first, at
    /// most `limit`.
    pub async fn handles_due(&self, before_ms: i64, limit: usize) -> Result<Vec<Did>, StoreError> {
        self.run(move |c| Ok(due(c, before_ms, limit)?)).await
    }

    /// Visible links with no handle, in DID key order after `after` (exclusive), at most
    /// `limit`: the firehose re-checks them once at start-up, since a landed link's handle
    /// check is queued only in memory.
    pub async fn links_without_handle(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<Did>, StoreError> {
        self.run(move |c| Ok(without_handle(c, after.as_deref(), limit)?))
            .await
    }
}
