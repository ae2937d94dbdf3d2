//! The reader: a pool of read-only WAL connections, so queries never wait on the writer. Each
//! query runs on `spawn_blocking` with a connection taken from the pool, except the two
//! probes of the hot path (`link_json_by_did`, `did_by_handle`), which take a
//! pooled connection on the calling thread: their cost is microseconds on the memory-mapped
//! index, less than the hand-off to another thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use syntax::Did;
use tokio::sync::Semaphore;

use crate::conn::open_reader;
use crate::did_keys::DidKeys;
use crate::error::StoreError;
use crate::migrate::check_current;
use crate::queries;
use crate::types::{CheckItem, Counts, FirehoseState, LinkView, RepoState, Status};

/// How fresh a copy of the index is, for a read replica's `getStatus`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// The newest write time the index holds (unix ms): the latest link verification or
    /// handle change, both read through an index. `None` for an empty index.
    pub newest_change_ms: Option<i64>,
    /// When the database file or its WAL was last modified (unix ms), when the file system
    /// says so.
    pub file_modified_ms: Option<i64>,
}

/// Reader pool settings.
#[derive(Debug, Clone, Copy)]
pub struct ReaderOptions {
    /// The most read-only connections open at once (and queries running at once).
    pub connections: usize,
    /// Each connection's SQLite page cache, KiB. Reads of the checkpointed index go through
    /// the memory map, so this holds only pages read from the WAL.
    pub cache_kib: u32,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        ReaderOptions {
            connections: (cpus * 2).clamp(4, 32),
            cache_kib: crate::conn::READER_CACHE_KIB,
        }
    }
}

struct Pool {
    path: PathBuf,
    cache_kib: u32,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Pool {
    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(c) => Ok(c),
            None => {
                let conn = open_reader(&self.path)?;
                crate::conn::set_cache_kib(&conn, self.cache_kib)?;
                Ok(conn)
            }
        }
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(conn);
        }
    }
}

/// SQLite instructions between two looks at the cancel flag of a running read.
const CANCEL_CHECK_OPS: i32 = 1_000;

/// Sets its flag when dropped while armed: the future of [`Reader::run`] was dropped before
/// the blocking query finished.
#[derive(Default)]
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    done: bool,
}

impl CancelOnDrop {
    fn disarm(mut self) {
        self.done = true;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.done {
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `f` with a progress handler that interrupts its statements once `cancelled` is set
/// (SQLITE_INTERRUPT); a read cancelled before it starts does not run at all.
fn run_cancellable<T>(
    conn: &Connection,
    cancelled: &Arc<AtomicBool>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if cancelled.load(Ordering::Relaxed) {
        return Err(StoreError::Task("the read was cancelled".into()));
    }
    let flag = cancelled.clone();
    conn.progress_handler(CANCEL_CHECK_OPS, Some(move || flag.load(Ordering::Relaxed)));
    let out = f(conn);
    conn.progress_handler(0, None::<fn() -> bool>);
    out
}

/// Read access to the index; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Reader {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.pool.path)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// A pool over a database that the caller has already created and migrated.
    pub(crate) fn new(path: &Path, options: ReaderOptions) -> Reader {
        let n = options.connections.max(1);
        Reader {
            pool: Arc::new(Pool {
                path: path.to_owned(),
                cache_kib: options.cache_kib,
                idle: Mutex::new(Vec::with_capacity(n)),
                permits: Arc::new(Semaphore::new(n)),
            }),
        }
    }

    /// Opens a read-only pool over an existing database (a replica, or `serve --read-only`).
    /// Never creates or migrates: a missing file or a schema of another version is an error.
    pub fn open_read_only(path: &Path) -> Result<Reader, StoreError> {
        Reader::open_read_only_with(path, ReaderOptions::default())
    }

    /// [`Reader::open_read_only`] with explicit pool settings.
    pub fn open_read_only_with(path: &Path, options: ReaderOptions) -> Result<Reader, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        let conn = open_reader(path)?;
        crate::conn::set_cache_kib(&conn, options.cache_kib)?;
        check_current(&conn)?;
        let reader = Reader::new(path, options);
        reader.pool.put(conn);
        Ok(reader)
    }

    /// Runs `f` on a pooled connection on the blocking thread pool. When the returned future
    /// is dropped before it completes (the request timed out or the client went away), the
    /// query is interrupted: its connection and permit come back within a few thousand SQLite
    /// instructions instead of when the query would have finished.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self
            .pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let pool = self.pool.clone();
        let cancel = CancelOnDrop::default();
        let cancelled = cancel.flag.clone();
        let out = tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let out = run_cancellable(&conn, &cancelled, f);
            pool.put(conn);
            drop(permit);
            out
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
        cancel.disarm();
        out
    }

    /// Read permits free now (for tests and load reports).
    pub fn available_permits(&self) -> usize {
        self.pool.permits.available_permits()
    }

    /// Runs `f` on a pooled connection on the calling thread. Only for single primary-key
    /// probes (a few microseconds on the memory-mapped index), where the hand-off to the
    /// blocking pool would cost several times the query itself.
    pub(crate) fn run_inline<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.pool.take()?;
        let out = f(&conn);
        self.pool.put(conn);
        out
    }

    /// The visible link of `did`, any status.
    pub async fn link_by_did(&self, did: &str) -> Result<Option<LinkView>, StoreError> {
        let did = did.to_owned();
        self.run(move |c| Ok(queries::link_by_did(c, &did)?)).await
    }

    /// The visible link of `did` as link-view JSON bytes, with its status (the fast path of
    /// `resolveActor`; same JSON as serialising [`LinkView`]). A single primary-key probe: it
    /// runs inline on the calling task (a few microseconds) instead of on the blocking pool,
    /// whose hand-off alone cost more than twice the whole request in the `query_load` bench.
    pub async fn link_json_by_did(
        &self,
        did: &str,
    ) -> Result<Option<(Status, Vec<u8>)>, StoreError> {
        self.run_inline(|c| Ok(queries::link_json_by_did(c, did)?))
    }

    /// The whole `resolveActors` body, `{"links":[link view, ...]}`, for `dids` in input order
    /// (unknown and repeated DIDs left out; only verified links unless `include_unverified`),
    /// written straight from the rows without building [`LinkView`]s.
    pub async fn links_json_by_dids(
        &self,
        dids: Vec<String>,
        include_unverified: bool,
    ) -> Result<Vec<u8>, StoreError> {
        self.links_json_by_did_keys(dids.iter().collect(), include_unverified)
            .await
    }

    /// [`Reader::links_json_by_dids`] for DIDs already turned into their keys, in input
    /// order with repeats (the XRPC handler's path: no `String` per DID).
    pub async fn links_json_by_did_keys(
        &self,
        dids: DidKeys,
        include_unverified: bool,
    ) -> Result<Vec<u8>, StoreError> {
        self.run(move |c| Ok(queries::links_json_by_dids(c, &dids, include_unverified)?))
            .await
    }

    /// The DID whose verified handle is `handle` (case-insensitive). A few index probes (the
    /// links' handle index, then `unlinked_handles` only on a miss): runs inline, like
    /// [`Reader::link_json_by_did`].
    pub async fn did_by_handle(&self, handle: &str) -> Result<Option<Did>, StoreError> {
        self.run_inline(|c| Ok(queries::did_by_handle(c, handle)?))
    }

    /// [`Reader::did_by_handle`] for many handles at once, one answer per handle.
    pub async fn dids_by_handles(
        &self,
        handles: Vec<String>,
    ) -> Result<Vec<Option<Did>>, StoreError> {
        self.run(move |c| Ok(queries::dids_by_handles(c, &handles)?))
            .await
    }

    /// Whether the index knows `did` as a visible account (to tell `ActorNotFound` from
    /// `LinkNotFound`).
    pub async fn actor_known(&self, did: &str) -> Result<bool, StoreError> {
        let did = did.to_owned();
        self.run(move |c| Ok(queries::actor_known(c, &did)?)).await
    }

    /// The visible links of `dids` in input order; unknown and repeated DIDs are left out.
    pub async fn links_by_dids(&self, dids: Vec<String>) -> Result<Vec<LinkView>, StoreError> {
        self.run(move |c| Ok(queries::links_by_dids(c, &dids)?))
            .await
    }

    /// The visible links naming `inbox_id`: at most `limit`, in DID order; verified ones
    /// only unless `include_unverified`, and then verified links are never crowded out by
    /// pending or invalid claims (they are kept first when the cap bites). Each statement
    /// reads at most `limit` rows, whatever the number of claims on the inbox.
    pub async fn links_by_inbox(
        &self,
        inbox_id: &str,
        include_unverified: bool,
        limit: usize,
    ) -> Result<Vec<LinkView>, StoreError> {
        let inbox_id = inbox_id.to_owned();
        self.run(move |c| {
            Ok(queries::links_by_inbox(
                c,
                &inbox_id,
                include_unverified,
                limit,
            )?)
        })
        .await
    }

    /// [`Reader::links_by_inbox`] for many inboxes: one `(inbox_id, links)` per distinct input.
    pub async fn links_by_inboxes(
        &self,
        inbox_ids: Vec<String>,
        include_unverified: bool,
        limit: usize,
    ) -> Result<Vec<(String, Vec<LinkView>)>, StoreError> {
        self.run(move |c| {
            Ok(queries::links_by_inboxes(
                c,
                inbox_ids,
                include_unverified,
                limit,
            )?)
        })
        .await
    }

    /// One page of visible links in a stable (DID) order. `status: None` = every status.
    /// The returned cursor is `Some` only when more links follow; paging never skips or
    /// repeats a link that exists throughout, whatever is written meanwhile.
    pub async fn list_links(
        &self,
        status: Option<Status>,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<(Vec<LinkView>, Option<String>), StoreError> {
        self.run(move |c| queries::list_links(c, status, cursor.as_deref(), limit))
            .await
    }

    /// Visible links per status.
    pub async fn counts(&self) -> Result<Counts, StoreError> {
        self.run(|c| Ok(queries::counts(c)?)).await
    }

    /// The persisted firehose cursor and counters.
    pub async fn firehose_state(&self) -> Result<FirehoseState, StoreError> {
        self.run(|c| Ok(queries::firehose_state(c)?)).await
    }

    /// How fresh this copy of the index is: the newest change it holds and the file's age.
    /// Cheap (two index probes and two `stat`s), so health checks may call it often.
    pub async fn replica_status(&self) -> Result<ReplicaStatus, StoreError> {
        let path = self.pool.path.clone();
        self.run(move |c| {
            let verified = c
                .prepare_cached("SELECT MAX(verified_at) FROM links WHERE status = 0")?
                .query_row([], |r| r.get::<_, Option<i64>>(0))?;
            let newest_change_ms = verified.max(crate::handles::newest_ms(c)?);
            Ok(ReplicaStatus {
                newest_change_ms,
                file_modified_ms: file_modified_ms(&path),
            })
        })
        .await
    }

    /// The recorded Sync 1.1 state of `did`'s repo (rev, data CID, commit CID).
    pub async fn repo_state(&self, did: &str) -> Result<Option<RepoState>, StoreError> {
        let did = did.to_owned();
        self.run(move |c| Ok(queries::repo_state(c, &did)?)).await
    }

    /// The newest rev seen for `did`'s repo, even when no full state is recorded.
    pub async fn repo_rev(&self, did: &str) -> Result<Option<syntax::Tid>, StoreError> {
        let did = did.to_owned();
        self.run(move |c| Ok(queries::repo_rev(c, &did)?)).await
    }

    #[cfg(test)]
    /// Every DID whose repo the index follows (a link or a repo state), sorted.
    pub async fn tracked_dids(&self) -> Result<Vec<syntax::Did>, StoreError> {
        self.run(|c| Ok(queries::tracked_dids(c)?)).await
    }

    /// Work for the verifier: pending links with `not_before <= now`, then verified links
    /// verified before `reverify_before`, then links invalid only for want of a usable inbox
    /// ([`crate::ReasonCode::RECHECKED`]: no inbox yet, a log that did not replay, or one
    /// that replayed to another inbox) with `not_before <= now`; times in unix
    /// seconds; at most `limit` items.
    pub async fn links_to_check(
        &self,
        now: i64,
        reverify_before: i64,
        limit: usize,
    ) -> Result<Vec<CheckItem>, StoreError> {
        self.run(move |c| Ok(queries::links_to_check(c, now, reverify_before, limit)?))
            .await
    }

    /// The verifier's cached state of `inbox_id`: (last sequence id, opaque state).
    pub async fn inbox_state(&self, inbox_id: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let inbox_id = inbox_id.to_owned();
        self.run(move |c| Ok(queries::inbox_state(c, &inbox_id)?))
            .await
    }
}

/// The newest modification time of the database file and its `-wal` (unix ms).
fn file_modified_ms(path: &Path) -> Option<i64> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_owned(), PathBuf::from(wal)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .filter_map(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .filter_map(|d| i64::try_from(d.as_millis()).ok())
        .max()
}
