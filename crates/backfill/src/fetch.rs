//! The fetch phase: each discovered DID's `org.xmtp.inbox/self`, proof-checked, with bounded
//! concurrency; outcomes are written in batches, each DID's progress in the same transaction
//! as the record changes it caused.

use std::sync::Arc;

use store::{BackfillChange, BackfillState, Batch, Change};
use sync::backoff::Backoff;
use sync::resync::{InboxOutcome, ResyncError, fetch_inbox_changes};
use sync::{IdentitySource, RecordFetcher};
use syntax::Did;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::BackfillConfig;
use crate::metrics as m;
use crate::progress::Progress;

/// What fetching one DID gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidOutcome {
    /// The DID.
    pub did: String,
    /// Its new backfill state.
    pub state: BackfillState,
    /// Why it failed.
    pub error: Option<String>,
    /// Changes for the index (record, repo state, handle).
    pub changes: Vec<Change>,
}

/// What a fetch task needs.
pub struct FetchCtx {
    /// Settings.
    pub cfg: BackfillConfig,
    /// Signing keys and PDS endpoints.
    pub identity: Arc<dyn IdentitySource>,
    /// Verified handles (None: handles are not learned).
    pub handles: Option<Arc<dyn IdentitySource>>,
    /// `sync.getRecord`.
    pub fetcher: Arc<dyn RecordFetcher>,
}

/// Fetches and checks one DID's record, retrying transient faults with backoff.
pub async fn process_did(ctx: &FetchCtx, typed: &Did) -> DidOutcome {
    let did = typed.as_str();
    let mut backoff = Backoff::new(ctx.cfg.initial_backoff, ctx.cfg.max_backoff);
    let attempts = ctx.cfg.did_attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        match fetch_inbox_changes(ctx.identity.as_ref(), ctx.fetcher.as_ref(), typed).await {
            Ok(fetched) => {
                let mut changes = fetched.changes();
                let state = match fetched.outcome {
                    InboxOutcome::Present { .. } => BackfillState::Indexed,
                    InboxOutcome::Absent { .. } | InboxOutcome::Unproven => BackfillState::Absent,
                };
                if state == BackfillState::Indexed {
                    // The account's status is known from the start: a takedown that
                    // happened before we tracked the DID is applied with its record.
                    match ctx.fetcher.repo_status(&fetched.pds, typed).await {
                        Ok(Some(s)) => changes.push(Change::AccountStatus {
                            did: typed.clone(),
                            active: s.active,
                            status: s.status,
                        }),
                        Ok(None) => {}
                        Err(e) => {
                            last = format!("getRepoStatus: {e}");
                            if attempt < attempts {
                                backoff.wait().await;
                            }
                            continue;
                        }
                    }
                }
                if state == BackfillState::Indexed
                    && let Some(h) = &ctx.handles
                {
                    match h.verified_handle(typed).await {
                        // Before the record: the new link then takes the handle as it is
                        // created, one `created` event with the handle instead of a
                        // `created` without it and an `updated` (half the outbox rows and
                        // writer work of a backfilled link).
                        Ok(handle) => changes.insert(
                            0,
                            Change::Handle {
                                did: typed.clone(),
                                handle,
                            },
                        ),
                        Err(e) => {
                            tracing::debug!(did, error = %e, "handle not checked; kept as is")
                        }
                    }
                }
                return DidOutcome {
                    did: did.to_owned(),
                    state,
                    error: None,
                    changes,
                };
            }
            Err(ResyncError::Permanent(why)) => {
                last = why;
                break;
            }
            Err(ResyncError::Transient(why)) => {
                last = why;
                if attempt < attempts {
                    backoff.wait().await;
                }
            }
        }
    }
    tracing::debug!(did, why = %last, "backfill of this DID failed");
    DidOutcome {
        did: did.to_owned(),
        state: BackfillState::Failed,
        error: Some(last),
        changes: Vec::new(),
    }
}

/// Batches built and waiting while one commits: the collector keeps receiving outcomes
/// during a commit instead of stalling its fetchers, at most this many batches ahead.
const FLUSHES_AHEAD: usize = 1;

/// One batch of outcomes ready for the writer, with what it counts for `progress`.
struct Flush {
    changes: Vec<Change>,
    indexed: u64,
    absent: u64,
    failed: u64,
}

/// Writes outcomes in batches (size or time bound) and counts them in `progress` once
/// committed. A committer task applies the batches in order while this task keeps
/// collecting the next one (bounded by [`FLUSHES_AHEAD`]); the first failed batch stops
/// both, and its error is returned.
async fn collect(
    cfg: &BackfillConfig,
    writer: &store::Writer,
    progress: Arc<Progress>,
    rx: mpsc::Receiver<DidOutcome>,
) -> Result<(), store::StoreError> {
    let (flush_tx, flush_rx) = mpsc::channel::<Flush>(FLUSHES_AHEAD);
    let committer = tokio::spawn(commit_all(writer.clone(), progress, flush_rx));
    gather(cfg, rx, &flush_tx).await;
    drop(flush_tx);
    match committer.await {
        Ok(r) => r,
        Err(e) => Err(store::StoreError::Task(e.to_string())),
    }
}

/// Receives outcomes until the fetchers are done (or the committer stopped), handing each
/// full or timed-out batch to the committer.
async fn gather(
    cfg: &BackfillConfig,
    mut rx: mpsc::Receiver<DidOutcome>,
    flush_tx: &mpsc::Sender<Flush>,
) {
    let mut buf: Vec<DidOutcome> = Vec::with_capacity(cfg.write_batch);
    let mut tick = tokio::time::interval(cfg.write_interval);
    loop {
        let full = tokio::select! {
            got = rx.recv() => match got {
                Some(o) => {
                    buf.push(o);
                    buf.len() >= cfg.write_batch.max(1)
                }
                None => {
                    if !buf.is_empty() {
                        drop(flush_tx.send(take(&mut buf)).await);
                    }
                    return;
                }
            },
            _ = tick.tick() => !buf.is_empty(),
            // The committer stopped on an error: stop taking outcomes now.
            () = flush_tx.closed() => return,
        };
        // A send fails only when the committer stopped on an error, which it returns.
        if full && flush_tx.send(take(&mut buf)).await.is_err() {
            return;
        }
    }
}

/// Applies the batches in arrival order; progress counts a batch after its commit.
async fn commit_all(
    writer: store::Writer,
    progress: Arc<Progress>,
    mut flushes: mpsc::Receiver<Flush>,
) -> Result<(), store::StoreError> {
    while let Some(f) = flushes.recv().await {
        writer.apply(Batch::of(f.changes)).await?;
        progress.add(f.indexed, f.absent, f.failed);
        metrics::counter!(m::RECORDS, "outcome" => "indexed").increment(f.indexed);
        metrics::counter!(m::RECORDS, "outcome" => "absent").increment(f.absent);
        metrics::counter!(m::RECORDS, "outcome" => "failed").increment(f.failed);
    }
    Ok(())
}

/// Turns the buffered outcomes into one batch: each DID's changes, then its progress.
fn take(buf: &mut Vec<DidOutcome>) -> Flush {
    let mut f = Flush {
        changes: Vec::with_capacity(buf.len() * 4),
        indexed: 0,
        absent: 0,
        failed: 0,
    };
    for o in buf.drain(..) {
        match o.state {
            BackfillState::Indexed => f.indexed += 1,
            BackfillState::Absent => f.absent += 1,
            _ => f.failed += 1,
        }
        f.changes.extend(o.changes);
        f.changes.push(Change::Backfill(BackfillChange::Repo {
            did: o.did,
            state: o.state,
            error: o.error,
        }));
    }
    f
}

/// Fetches every DID still to do in this pass. Returns `true` when interrupted.
pub async fn fetch_all(
    ctx: Arc<FetchCtx>,
    reader: &store::Reader,
    writer: &store::Writer,
    progress: Arc<Progress>,
    shutdown: &CancellationToken,
) -> Result<bool, store::StoreError> {
    let (tx, rx) = mpsc::channel::<DidOutcome>(ctx.cfg.write_batch.max(1) * 2);
    let collector = {
        let (cfg, writer, progress) = (ctx.cfg.clone(), writer.clone(), progress.clone());
        tokio::spawn(async move { collect(&cfg, &writer, progress, rx).await })
    };
    let sem = Arc::new(Semaphore::new(ctx.cfg.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut after: Option<String> = None;
    let mut interrupted = false;
    'outer: loop {
        let dids = reader.backfill_todo(after.clone(), 1000).await?;
        // Typed by the store: a queued DID that does not parse was skipped there (logged
        // and counted in `store_bad_rows_total`) and stays pending.
        let Some(last) = dids.last().map(Did::to_string) else {
            break;
        };
        for did in dids {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => { interrupted = true; break 'outer; }
                p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break 'outer },
            };
            // Reap finished tasks so the set stays small.
            while tasks.try_join_next().is_some() {}
            let (ctx, tx) = (ctx.clone(), tx.clone());
            tasks.spawn(async move {
                let outcome = process_did(&ctx, &did).await;
                drop(tx.send(outcome).await);
                drop(permit);
            });
        }
        after = Some(last);
    }
    if interrupted || shutdown.is_cancelled() {
        // Unfinished DIDs stay pending for the next run; finished ones are still written.
        tasks.abort_all();
        interrupted = true;
    }
    while tasks.join_next().await.is_some() {}
    drop(tx);
    match collector.await {
        Ok(r) => r?,
        Err(e) => return Err(store::StoreError::Task(e.to_string())),
    }
    Ok(interrupted)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn absent(n: usize) -> DidOutcome {
        DidOutcome {
            did: format!("did:plc:{n:024}"),
            state: BackfillState::Absent,
            error: None,
            changes: Vec::new(),
        }
    }

    /// While a batch waits for its commit (another connection holds the write lock), the
    /// collector keeps taking outcomes and builds the next batch; everything lands and is
    /// counted once the lock is gone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_collector_keeps_collecting_while_a_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let store = store::Store::open(&path).unwrap();
        let cfg = BackfillConfig {
            write_batch: 2,
            write_interval: Duration::from_secs(3600),
            ..BackfillConfig::default()
        };
        let progress = Arc::new(Progress::new());
        let (tx, rx) = mpsc::channel(1);
        let collector = {
            let (writer, progress) = (store.writer(), progress.clone());
            tokio::spawn(async move { collect(&cfg, &writer, progress, rx).await })
        };
        let lock = rusqlite::Connection::open(&path).unwrap();
        lock.execute_batch("BEGIN IMMEDIATE").unwrap();
        // Batch 1 (outcomes 0, 1) is stuck on the lock, batch 2 (2, 3) waits for it, 4 is
        // buffered: the collector stalled on its first commit would take at most 2 + 1.
        for n in 0..5 {
            tokio::time::timeout(Duration::from_secs(2), tx.send(absent(n)))
                .await
                .unwrap_or_else(|_| panic!("outcome {n} not taken while a batch commits"))
                .unwrap();
        }
        assert_eq!(progress.finished(), 0);
        lock.execute_batch("COMMIT").unwrap();
        drop(tx);
        collector.await.unwrap().unwrap();
        assert_eq!(progress.absent(), 5);
        let counts = store.reader().backfill_counts().await.unwrap();
        assert_eq!(counts.total(), 5);
    }
}
