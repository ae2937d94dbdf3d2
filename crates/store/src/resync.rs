//! The durable resync queue (migration 0005): repos whose record state is uncertain until a
//! proof-checked `getRecord` resync lands. Written through the [`Writer`](crate::Writer) as
//! [`Change::Resync`](crate::Change::Resync), in the same transaction as the cursor that
//! passed the event; read through the [`Reader`]. Rows are never dropped for lack of room or
//! attempts.

use rusqlite::{Connection, OptionalExtension, params};
use syntax::{Did, Tid};

use crate::error::StoreError;
use crate::reader::Reader;

/// A change to the resync queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResyncChange {
    /// The repo is desynchronized: queue a resync (due now) unless one is queued, and raise
    /// `seen_rev` to `rev`, the rev of an event that was not applied because of it.
    Desync {
        /// The repo's DID.
        did: Did,
        /// Why (a stable short code: `since`, `prev_data`, `unproven`, `no_key`, ...).
        reason: String,
        /// The rev of the event not applied.
        rev: Option<Tid>,
    },
    /// An attempt failed: try again at `next_attempt` (unix ms).
    Failed {
        /// The repo's DID.
        did: Did,
        /// What went wrong (kept short).
        error: String,
        /// Unix ms.
        next_attempt: i64,
    },
    /// Not tried now (its host is failing): due again at `until` (unix ms). Not an attempt.
    Postpone {
        /// The repo's DID.
        did: Did,
        /// Unix ms.
        until: i64,
    },
    /// A resync proven at `rev` landed (its record changes are in the same batch). The row
    /// goes unless an event newer than `rev` was seen meanwhile; then it is due again at
    /// `retry_at` (unix ms).
    Landed {
        /// The repo's DID.
        did: Did,
        /// The rev the resync proved.
        rev: Tid,
        /// When to try again if a newer event was seen meanwhile.
        retry_at: i64,
    },
    /// The account is gone: nothing left to resync.
    Forget {
        /// The repo's DID.
        did: Did,
    },
    /// A queued row whose DID does not parse ([`DueResyncs::unparsed`]): it goes.
    DropUnparsed {
        /// The DID as stored.
        did: String,
    },
}

/// The due part of the queue: the rows to resync, and those whose DID does not parse
/// (skipped, logged and counted in `store_bad_rows_total{table="resync_queue"}`; the caller
/// drops them with [`ResyncChange::DropUnparsed`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueResyncs {
    /// The rows to resync, oldest due first.
    pub items: Vec<ResyncItem>,
    /// The stored DIDs of the rows that do not parse.
    pub unparsed: Vec<String>,
}

/// One queued resync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResyncItem {
    /// The repo's DID.
    pub did: Did,
    /// Why it was queued.
    pub reason: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The last error, if any.
    pub last_error: Option<String>,
}

const MAX_TEXT: usize = 256;

fn short(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub(crate) fn apply(conn: &Connection, change: &ResyncChange, now_ms: i64) -> rusqlite::Result<()> {
    match change {
        ResyncChange::Desync { did, reason, rev } => {
            conn.prepare_cached(
                "INSERT INTO resync_queue (did, reason, seen_rev, next_attempt, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?4)
                 ON CONFLICT (did) DO UPDATE SET
                    seen_rev = CASE WHEN resync_queue.seen_rev IS NULL
                        OR excluded.seen_rev > resync_queue.seen_rev
                        THEN excluded.seen_rev ELSE resync_queue.seen_rev END,
                    updated_at = excluded.updated_at",
            )?
            .execute(params![
                did.as_str(),
                short(reason),
                rev.as_ref().map(Tid::as_str),
                now_ms
            ])?;
        }
        ResyncChange::Failed {
            did,
            error,
            next_attempt,
        } => {
            conn.prepare_cached(
                "UPDATE resync_queue SET attempts = attempts + 1, last_error = ?2,
                    next_attempt = ?3, updated_at = ?4 WHERE did = ?1",
            )?
            .execute(params![did.as_str(), short(error), next_attempt, now_ms])?;
        }
        ResyncChange::Postpone { did, until } => {
            conn.prepare_cached(
                "UPDATE resync_queue SET next_attempt = ?2, updated_at = ?3 WHERE did = ?1",
            )?
            .execute(params![did.as_str(), until, now_ms])?;
        }
        ResyncChange::Landed { did, rev, retry_at } => {
            let seen: Option<Option<String>> = conn
                .prepare_cached("SELECT seen_rev FROM resync_queue WHERE did = ?1")?
                .query_row([did.as_str()], |r| r.get(0))
                .optional()?;
            match seen {
                None => {}
                Some(Some(seen)) if seen.as_str() > rev.as_str() => {
                    conn.prepare_cached(
                        "UPDATE resync_queue SET reason = 'newer_event', attempts = attempts + 1,
                            next_attempt = ?2, updated_at = ?3 WHERE did = ?1",
                    )?
                    .execute(params![did.as_str(), retry_at, now_ms])?;
                }
                Some(_) => {
                    conn.prepare_cached("DELETE FROM resync_queue WHERE did = ?1")?
                        .execute([did.as_str()])?;
                }
            }
        }
        ResyncChange::Forget { did } => {
            conn.prepare_cached("DELETE FROM resync_queue WHERE did = ?1")?
                .execute([did.as_str()])?;
        }
        ResyncChange::DropUnparsed { did } => {
            conn.prepare_cached("DELETE FROM resync_queue WHERE did = ?1")?
                .execute([did])?;
        }
    }
    Ok(())
}

fn due(conn: &Connection, now_ms: i64, limit: usize) -> rusqlite::Result<DueResyncs> {
    let mut out = DueResyncs::default();
    let mut stmt = conn.prepare_cached(
        "SELECT did, reason, attempts, last_error FROM resync_queue
         WHERE next_attempt <= ?1 ORDER BY next_attempt, did LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![now_ms, limit as i64])?;
    while let Some(r) = rows.next()? {
        let text = r.get_ref(0)?.as_str()?;
        let did = crate::rows::parse(("resync_queue", "did"), 0, text, Did::parse);
        match crate::rows::skip_bad(did)? {
            Some(did) => out.items.push(ResyncItem {
                did,
                reason: r.get(1)?,
                attempts: r.get::<_, i64>(2)?.clamp(0, u32::MAX as i64) as u32,
                last_error: r.get(3)?,
            }),
            None => out.unparsed.push(text.to_owned()),
        }
    }
    Ok(out)
}

impl Reader {
    /// Queued resyncs due at `now_ms` (unix ms), oldest due first, at most `limit`.
    pub async fn due_resyncs(&self, now_ms: i64, limit: usize) -> Result<DueResyncs, StoreError> {
        self.run(move |c| Ok(due(c, now_ms, limit)?)).await
    }

    /// Every DID with a queued resync (desynchronized repos); rows whose DID does not parse
    /// are skipped (counted), [`Reader::due_resyncs`] reports them for dropping.
    pub async fn desynchronized_dids(&self) -> Result<Vec<Did>, StoreError> {
        self.run(|c| {
            Ok(crate::rows::collect_good(
                c.prepare_cached("SELECT did FROM resync_queue ORDER BY did")?
                    .query_map([], |r| {
                        crate::rows::parse(
                            ("resync_queue", "did"),
                            0,
                            r.get_ref(0)?.as_str()?,
                            Did::parse,
                        )
                    })?,
            )?)
        })
        .await
    }

    /// How many resyncs are queued.
    pub async fn resync_pending(&self) -> Result<u64, StoreError> {
        self.run(|c| {
            // Kept by triggers (migration 0005), so getStatus never scans the queue.
            let n: i64 = c
                .prepare_cached("SELECT n FROM resync_count WHERE id = 1")?
                .query_row([], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }
}
