//! The writer: one thread owns the only read-write connection and applies [`Batch`]es in
//! arrival order. Batches queued together share one SQLite transaction (group commit), each
//! inside its own savepoint, so a failing batch is rolled back alone and the others still land.

use std::path::Path;
use std::thread;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

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
        let name = format!("store-writer:{}", path.display());
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, &name))?;
        Ok(Writer { tx })
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

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, name: &str) {
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
        for (job, result) in jobs.into_iter().zip(results) {
            // The caller may have gone away (cancelled); the write stands regardless.
            let _ = job.reply.send(result);
        }
    }
    tracing::debug!(writer = name, "store writer stopped");
}

/// Applies a group of batches in one transaction; returns one result per batch.
fn apply_group(conn: &mut Connection, jobs: &[Job]) -> Vec<Result<(), StoreError>> {
    let now = now_millis();
    let mut results: Vec<Result<(), StoreError>> = Vec::with_capacity(jobs.len());
    let outcome = (|| -> rusqlite::Result<()> {
        let mut tx = conn.transaction()?;
        for job in jobs {
            let sp = tx.savepoint()?;
            match apply_batch(&sp, &job.batch, now) {
                Ok(()) => {
                    sp.commit()?;
                    results.push(Ok(()));
                }
                Err(e) => {
                    // Dropping the savepoint rolls this batch back; the others stay.
                    drop(sp);
                    tracing::error!(error = %e, "store batch failed and was rolled back");
                    results.push(Err(StoreError::Sqlite(e)));
                }
            }
        }
        tx.commit()
    })();
    match outcome {
        Ok(()) => results,
        Err(e) => {
            tracing::error!(error = %e, "store transaction failed");
            let msg = e.to_string();
            jobs.iter()
                .map(|_| Err(StoreError::Commit(msg.clone())))
                .collect()
        }
    }
}
