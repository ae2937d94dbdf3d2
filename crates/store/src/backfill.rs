//! Backfill progress (migration 0003): per discovery service the next page cursor, per DID
//! whether its record was fetched. Written through the [`Writer`](crate::Writer) as
//! [`Change::Backfill`](crate::Change::Backfill), so a DID's progress lands in the same
//! transaction as the record changes it caused; read through the [`Reader`].

use rusqlite::{Connection, params};

use crate::error::StoreError;
use crate::reader::Reader;

/// Where one DID stands in the current backfill pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackfillState {
    /// Discovered, not fetched yet.
    Pending,
    /// The record was proven present and indexed.
    Indexed,
    /// The record was proven absent (or the PDS offered no proof): nothing indexed.
    Absent,
    /// Retries exhausted, or the evidence was bad.
    Failed,
}

impl BackfillState {
    /// The lowercase name stored in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillState::Pending => "pending",
            BackfillState::Indexed => "indexed",
            BackfillState::Absent => "absent",
            BackfillState::Failed => "failed",
        }
    }
}

/// A change to the backfill progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackfillChange {
    /// Starts a new pass: forgets every source cursor and DID state.
    NewPass,
    /// One page of a discovery service: its DIDs are added as pending (a DID already known
    /// keeps its state) and the service's next cursor is saved.
    Page {
        /// The discovery service (base URL and method).
        service: String,
        /// The cursor of the next page (`None` with `complete`: the end).
        cursor: Option<String>,
        /// The last page was read.
        complete: bool,
        /// DIDs found on the page.
        dids: Vec<String>,
    },
    /// The outcome of one DID.
    Repo {
        /// The DID.
        did: String,
        /// Its new state.
        state: BackfillState,
        /// Why it failed.
        error: Option<String>,
    },
}

/// The saved position of one discovery service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillSource {
    /// The service.
    pub service: String,
    /// The next page's cursor.
    pub cursor: Option<String>,
    /// The last page was read.
    pub complete: bool,
}

/// DIDs per state in the current pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillCounts {
    /// Not fetched yet.
    pub pending: u64,
    /// Record indexed.
    pub indexed: u64,
    /// Record absent.
    pub absent: u64,
    /// Failed.
    pub failed: u64,
}

impl BackfillCounts {
    /// Every DID discovered in this pass.
    pub fn total(&self) -> u64 {
        self.pending + self.indexed + self.absent + self.failed
    }
}

/// Applies one backfill change inside the writer's transaction.
pub(crate) fn apply(
    conn: &Connection,
    change: &BackfillChange,
    now_ms: i64,
) -> rusqlite::Result<()> {
    match change {
        BackfillChange::NewPass => {
            conn.execute_batch("DELETE FROM backfill_sources; DELETE FROM backfill_repos;")
        }
        BackfillChange::Page {
            service,
            cursor,
            complete,
            dids,
        } => {
            let mut insert = conn.prepare_cached(
                "INSERT INTO backfill_repos (did, state, updated_at) VALUES (?1, 'pending', ?2)
                 ON CONFLICT (did) DO NOTHING",
            )?;
            for did in dids {
                insert.execute(params![did, now_ms])?;
            }
            conn.prepare_cached(
                "INSERT INTO backfill_sources (service, cursor, complete, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (service) DO UPDATE SET cursor = excluded.cursor,
                    complete = excluded.complete, updated_at = excluded.updated_at",
            )?
            .execute(params![service, cursor, complete, now_ms])?;
            Ok(())
        }
        BackfillChange::Repo { did, state, error } => {
            conn.prepare_cached(
                "INSERT INTO backfill_repos (did, state, attempts, error, updated_at)
                 VALUES (?1, ?2, 1, ?3, ?4)
                 ON CONFLICT (did) DO UPDATE SET state = excluded.state,
                    attempts = backfill_repos.attempts + 1, error = excluded.error,
                    updated_at = excluded.updated_at",
            )?
            .execute(params![did, state.as_str(), error, now_ms])?;
            Ok(())
        }
    }
}

fn sources(conn: &Connection) -> rusqlite::Result<Vec<BackfillSource>> {
    let mut stmt = conn.prepare_cached(
        "SELECT service, cursor, complete FROM backfill_sources ORDER BY service",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(BackfillSource {
            service: r.get(0)?,
            cursor: r.get(1)?,
            complete: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// A queued DID that does not parse is skipped (logged and counted): it stays `pending`.
fn todo(
    conn: &Connection,
    after: Option<&str>,
    limit: usize,
) -> rusqlite::Result<Vec<syntax::Did>> {
    let mut stmt = conn.prepare_cached(
        "SELECT did FROM backfill_repos WHERE state IN ('pending', 'failed') AND did > ?1
         ORDER BY did LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after.unwrap_or(""), limit as i64], |r| {
        let did = r.get_ref(0)?.as_str()?;
        crate::rows::parse(("backfill_repos", "did"), 0, did, syntax::Did::parse)
    })?;
    crate::rows::collect_good(rows)
}

fn counts(conn: &Connection) -> rusqlite::Result<BackfillCounts> {
    let mut stmt =
        conn.prepare_cached("SELECT state, COUNT(*) FROM backfill_repos GROUP BY state")?;
    let mut out = BackfillCounts::default();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        let n = n.max(0) as u64;
        match state.as_str() {
            "pending" => out.pending = n,
            "indexed" => out.indexed = n,
            "absent" => out.absent = n,
            _ => out.failed = n,
        }
    }
    Ok(out)
}

fn repo_state(conn: &Connection, did: &str) -> rusqlite::Result<Option<(BackfillState, u32)>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached("SELECT state, attempts FROM backfill_repos WHERE did = ?1")?
        .query_row([did], |r| {
            let state = match r.get::<_, String>(0)?.as_str() {
                "pending" => BackfillState::Pending,
                "indexed" => BackfillState::Indexed,
                "absent" => BackfillState::Absent,
                _ => BackfillState::Failed,
            };
            Ok((state, r.get::<_, i64>(1)?.max(0) as u32))
        })
        .optional()
}

impl Reader {
    /// The saved position of every discovery service of the current backfill pass.
    pub async fn backfill_sources(&self) -> Result<Vec<BackfillSource>, StoreError> {
        self.run(|c| Ok(sources(c)?)).await
    }

    /// DIDs still to fetch (pending, or failed in an earlier attempt) after `after`, in DID
    /// order, at most `limit`.
    pub async fn backfill_todo(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<syntax::Did>, StoreError> {
        self.run(move |c| Ok(todo(c, after.as_deref(), limit)?))
            .await
    }

    /// DIDs per state in the current pass.
    pub async fn backfill_counts(&self) -> Result<BackfillCounts, StoreError> {
        self.run(|c| Ok(counts(c)?)).await
    }

    /// One DID's state and how many outcomes were recorded for it (tests, diagnostics).
    pub async fn backfill_repo(
        &self,
        did: &str,
    ) -> Result<Option<(BackfillState, u32)>, StoreError> {
        let did = did.to_owned();
        self.run(move |c| Ok(repo_state(c, &did)?)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, Change, Store};

    fn page(service: &str, cursor: Option<&str>, complete: bool, dids: &[&str]) -> Change {
        Change::Backfill(BackfillChange::Page {
            service: service.into(),
            cursor: cursor.map(str::to_owned),
            complete,
            dids: dids.iter().map(|d| d.to_string()).collect(),
        })
    }

    #[tokio::test]
    async fn pages_merge_dids_and_outcomes_are_kept_across_rediscovery() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.sqlite")).unwrap();
        let (w, r) = (store.writer(), store.reader());
        w.apply(Batch::of(vec![page(
            "a",
            Some("c1"),
            false,
            &["did:plc:1", "did:plc:2"],
        )]))
        .await
        .unwrap();
        w.apply(Batch::of(vec![Change::Backfill(BackfillChange::Repo {
            did: "did:plc:1".into(),
            state: BackfillState::Indexed,
            error: None,
        })]))
        .await
        .unwrap();
        // Another service lists did:plc:1 again: it stays indexed, no duplicate row.
        w.apply(Batch::of(vec![page(
            "b",
            None,
            true,
            &["did:plc:1", "did:plc:3"],
        )]))
        .await
        .unwrap();
        let c = r.backfill_counts().await.unwrap();
        assert_eq!((c.pending, c.indexed, c.total()), (2, 1, 3));
        assert_eq!(
            r.backfill_todo(None, 10).await.unwrap(),
            vec!["did:plc:2".to_string(), "did:plc:3".to_string()]
        );
        assert_eq!(
            r.backfill_todo(Some("did:plc:2".into()), 10).await.unwrap(),
            vec!["did:plc:3".to_string()]
        );
        let s = r.backfill_sources().await.unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].cursor.as_deref(), s[0].complete), (Some("c1"), false));
        assert!(s[1].complete);
        assert_eq!(
            r.backfill_repo("did:plc:1").await.unwrap(),
            Some((BackfillState::Indexed, 1))
        );

        w.apply(Batch::of(vec![Change::Backfill(BackfillChange::NewPass)]))
            .await
            .unwrap();
        assert_eq!(r.backfill_counts().await.unwrap().total(), 0);
        assert!(r.backfill_sources().await.unwrap().is_empty());
    }
}
