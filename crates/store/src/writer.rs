//! The writer: one thread owns the only read-write connection and applies [`Batch`]es in
//! arrival order. Batches queued together share one SQLite transaction (group commit); when
//! one fails, the group is rolled back and its batches applied one transaction each, so a
//! failing batch is rolled back alone and the others still land.

use std::path::Path;
use std::thread;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, watch};

use crate::apply::apply_batch;
use crate::error::StoreError;
use crate::time::now_millis;
use crate::types::Batch;

/// Batches waiting for the writer before `apply` waits (backpressure on ingest).
const QUEUE: usize = 256;
/// At most this many queued batches share one transaction.
const GROUP: usize = 64;

struct Job {
    batch: Batch,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A handle to the writer thread; cheap to clone. The thread stops when every handle is gone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    /// The latest committed `subscribeLinks` seq, bumped after each commit that wrote one.
    link_events: watch::Receiver<i64>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the writer thread over an open, migrated read-write connection.
    pub(crate) fn spawn(conn: Connection, path: &Path) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let latest = crate::outbox::latest_seq(&conn).map_err(std::io::Error::other)?;
        let (seq_tx, link_events) = watch::channel(latest);
        let name = format!("store-writer:{}", path.display());
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, seq_tx, &name))?;
        Ok(Writer { tx, link_events })
    }

    /// The latest committed `subscribeLinks` seq, updated after every commit that wrote
    /// link events (only once they are visible to readers).
    pub fn link_events(&self) -> watch::Receiver<i64> {
        self.link_events.clone()
    }

    /// Applies `batch` in one transaction (changes, counters and cursor together).
    pub async fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Job { batch, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        done.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Like [`Writer::apply`], for threads outside the async runtime (it blocks; calling it
    /// on a runtime thread panics, use `apply` there).
    pub fn apply_blocking(&self, batch: Batch) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .blocking_send(Job { batch, reply })
            .map_err(|_| StoreError::WriterGone)?;
        done.blocking_recv().map_err(|_| StoreError::WriterGone)?
    }
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    link_events: watch::Sender<i64>,
    name: &str,
) {
    tracing::debug!(writer = name, "store writer started");
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let results = apply_group(&mut conn, &jobs);
        match crate::outbox::latest_seq(&conn) {
            Ok(seq) => {
                link_events.send_if_modified(|latest| std::mem::replace(latest, seq) != seq);
            }
            Err(e) => tracing::error!(error = %e, "reading the latest link event seq failed"),
        }
        for (job, result) in jobs.into_iter().zip(results) {
            // The caller may have gone away (cancelled); the write stands regardless.
            let _ = job.reply.send(result);
        }
    }
    tracing::debug!(writer = name, "store writer stopped");
}

/// Applies a group of batches in one transaction; returns one result per batch. When a batch
/// fails, the transaction is rolled back and each batch is applied again in a transaction of
/// its own, so a failing batch is rolled back alone and the others still land. (Savepoints
/// per batch would do the same without the retry, but SQLite's savepoint bookkeeping grows
/// with the transaction's dirty pages: it took over half the writer's time in bulk writes.)
fn apply_group(conn: &mut Connection, jobs: &[Job]) -> Vec<Result<(), StoreError>> {
    let now = now_millis();
    if jobs.len() > 1 {
        let together = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for job in jobs {
                apply_batch(&tx, &job.batch, now)?;
            }
            tx.commit()
        })();
        match together {
            Ok(()) => return jobs.iter().map(|_| Ok(())).collect(),
            Err(e) => {
                tracing::warn!(error = %e, batches = jobs.len(), "a grouped store batch failed; applying them one by one");
            }
        }
    }
    jobs.iter().map(|job| apply_alone(conn, job, now)).collect()
}

/// Applies one batch in its own transaction.
fn apply_alone(conn: &mut Connection, job: &Job, now: i64) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(|e| {
        tracing::error!(error = %e, "store transaction failed");
        StoreError::Commit(e.to_string())
    })?;
    if let Err(e) = apply_batch(&tx, &job.batch, now) {
        tracing::error!(error = %e, "store batch failed and was rolled back");
        return Err(StoreError::Sqlite(e));
    }
    tx.commit().map_err(|e| {
        tracing::error!(error = %e, "store transaction failed");
        StoreError::Commit(e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Change, RecordInput};

    fn job(changes: Vec<Change>) -> (Job, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, rx) = oneshot::channel();
        (
            Job {
                batch: Batch::of(changes),
                reply,
            },
            rx,
        )
    }

    fn put(did: &str) -> Change {
        Change::PutRecord {
            did: testkit::ids::did(did),
            rev: None,
            record: RecordInput {
                cid: testkit::ids::cid("c"),
                inbox_id: "i".into(),
                verification_signature: "s".into(),
                created_at: "2026-01-01T00:00:00Z".into(),
                malformed: None,
            },
        }
    }

    fn broken_inbox_state() -> Change {
        Change::InboxState {
            inbox_id: "i".into(),
            last_sequence_id: 1,
            state: vec![],
        }
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM links", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_failing_batch_in_a_group_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::conn::open_writer(&dir.path().join("w.sqlite")).unwrap();
        crate::migrate::migrate(&mut conn, crate::MIGRATIONS).unwrap();
        // Make InboxState changes fail.
        conn.execute_batch("DROP TABLE xmtp_inboxes").unwrap();
        let (a, _ra) = job(vec![put("did:plc:a")]);
        let (b, _rb) = job(vec![put("did:plc:b"), broken_inbox_state()]);
        let (c, _rc) = job(vec![put("did:plc:c")]);
        let results = apply_group(&mut conn, &[a, b, c]);
        assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
        assert_eq!(count(&conn), 2);
        let b_present: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM links WHERE did = CAST('did:plc:b' AS BLOB)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(b_present, 0);

        // Alone in its group, a failing batch leaves nothing either.
        let (d, _rd) = job(vec![put("did:plc:d"), broken_inbox_state()]);
        let results = apply_group(&mut conn, &[d]);
        assert!(results[0].is_err());
        assert_eq!(count(&conn), 2);
    }
}
