//! What the firehose asks the index about the repos it follows, without holding them all in
//! memory: a streaming walk over every tracked DID (to build a compact filter at start-up)
//! and the exact probes that stand behind that filter and behind the handle-takeover check.

use rusqlite::{Connection, params};

use crate::compact::{did_at, did_key};
use crate::error::StoreError;
use crate::reader::Reader;

/// The page cache a whole-table walk may use (KiB, as `PRAGMA cache_size` takes it negated):
/// a sequential scan gains nothing from a larger one, and the reader's usual 16 MB would stay
/// resident after it.
const SCAN_CACHE_KIB: i64 = 1_024;

/// Whether the index follows `did`: it has a link or a recorded repo state (the definition
/// of the tracked set: a link or a repo state). Two primary-key probes.
fn tracks_did(conn: &Connection, did: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM links WHERE did = ?1)
             OR EXISTS (SELECT 1 FROM repo_state WHERE did = ?2)",
    )?
    .query_row(params![did_key(did), did], |r| r.get(0))
}

/// Whether some DID holds `handle` (any case) as its verified handle, on its link or
/// without one (migration 0010), active or not.
fn holds_handle(conn: &Connection, handle: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM links WHERE handle = ?1)
             OR EXISTS (SELECT 1 FROM unlinked_handles WHERE handle = ?1)",
    )?
    .query_row([handle.to_ascii_lowercase()], |r| r.get(0))
}

/// Runs `f` with the memory map off and a small page cache, then restores both: a scan of
/// the whole index through the map would bring the whole file into the resident set
/// (808 MiB peak over a 1M-link index in the ingest bench).
fn scanning<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let cache: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
    conn.pragma_update(None, "mmap_size", 0)?;
    conn.pragma_update(None, "cache_size", -SCAN_CACHE_KIB)?;
    let out = f(conn);
    conn.pragma_update(None, "cache_size", cache)?;
    conn.pragma_update(None, "mmap_size", crate::conn::READER_MMAP)?;
    out
}

impl Reader {
    /// Whether the index follows `did` (a link or a repo state), exactly. A single probe of
    /// two primary keys on the calling thread (a few microseconds), so the firehose gate can
    /// check the rare DID its filter lets through without leaving the reader loop.
    pub fn tracks_did(&self, did: &str) -> Result<bool, StoreError> {
        self.run_inline(|c| Ok(tracks_did(c, did)?))
    }

    /// Whether any account (active or not) holds `handle`, case-insensitive: the
    /// firehose's takeover check on an `#identity` of an untracked DID. A single probe of the
    /// `handles` table's unique index, on the calling thread.
    pub fn holds_handle(&self, handle: &str) -> Result<bool, StoreError> {
        self.run_inline(|c| Ok(holds_handle(c, handle)?))
    }

    /// Streams every DID the index follows (those with a link or a repo state, unsorted, a DID
    /// with both a link and a repo state twice) into `state`, made by `init` from an upper
    /// bound on their number. Nothing but `state` grows with the index: the walk reads
    /// through a small page cache, not the memory map.
    pub async fn fold_tracked_dids<T, I, F>(&self, init: I, mut each: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        I: FnOnce(u64) -> T + Send + 'static,
        F: FnMut(&mut T, &str) + Send + 'static,
    {
        self.run(move |c| {
            Ok(scanning(c, |c| {
                let bound: i64 = c.query_row(
                    "SELECT (SELECT count(*) FROM links) + (SELECT count(*) FROM repo_state)",
                    [],
                    |r| r.get(0),
                )?;
                let mut state = init(u64::try_from(bound).unwrap_or(0));
                let mut links = c.prepare("SELECT did FROM links")?;
                let mut rows = links.query([])?;
                while let Some(r) = rows.next()? {
                    each(&mut state, &did_at(r, 0)?);
                }
                let mut states = c.prepare("SELECT did FROM repo_state")?;
                let mut rows = states.query([])?;
                while let Some(r) = rows.next()? {
                    let did: &str = r.get_ref(0)?.as_str()?;
                    each(&mut state, did);
                }
                Ok(state)
            })?)
        })
        .await
    }
}
