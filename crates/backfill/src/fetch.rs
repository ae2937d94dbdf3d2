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
                            did: did.to_owned(),
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
                    match h.verified_handle(did).await {
                        Ok(handle) => changes.push(Change::Handle {
                            did: did.to_owned(),
                            handle,
                        }),
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

/// Writes outcomes in batches (size or time bound) and counts them in `progress`.
async fn collect(
    cfg: &BackfillConfig,
    writer: &store::Writer,
    progress: &Progress,
    mut rx: mpsc::Receiver<DidOutcome>,
) -> Result<(), store::StoreError> {
    let mut buf: Vec<DidOutcome> = Vec::with_capacity(cfg.write_batch);
    let mut tick = tokio::time::interval(cfg.write_interval);
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Some(o) => {
                    buf.push(o);
                    if buf.len() >= cfg.write_batch.max(1) {
                        flush(writer, progress, &mut buf).await?;
                    }
                }
                None => {
                    if !buf.is_empty() {
                        flush(writer, progress, &mut buf).await?;
                    }
                    return Ok(());
                }
            },
            _ = tick.tick() => {
                if !buf.is_empty() {
                    flush(writer, progress, &mut buf).await?;
                }
            }
        }
    }
}

async fn flush(
    writer: &store::Writer,
    progress: &Progress,
    buf: &mut Vec<DidOutcome>,
) -> Result<(), store::StoreError> {
    let mut changes = Vec::with_capacity(buf.len() * 4);
    let (mut indexed, mut absent, mut failed) = (0u64, 0u64, 0u64);
    for o in buf.drain(..) {
        match o.state {
            BackfillState::Indexed => indexed += 1,
            BackfillState::Absent => absent += 1,
            _ => failed += 1,
        }
        changes.extend(o.changes);
        changes.push(Change::Backfill(BackfillChange::Repo {
            did: o.did,
            state: o.state,
            error: o.error,
        }));
    }
    writer.apply(Batch::of(changes)).await?;
    progress.add(indexed, absent, failed);
    metrics::counter!(m::RECORDS, "outcome" => "indexed").increment(indexed);
    metrics::counter!(m::RECORDS, "outcome" => "absent").increment(absent);
    metrics::counter!(m::RECORDS, "outcome" => "failed").increment(failed);
    Ok(())
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
        tokio::spawn(async move { collect(&cfg, &writer, &progress, rx).await })
    };
    let sem = Arc::new(Semaphore::new(ctx.cfg.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut after: Option<String> = None;
    let mut interrupted = false;
    'outer: loop {
        let dids = reader.backfill_todo(after.clone(), 1000).await?;
        let Some(last) = dids.last().cloned() else {
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
                let outcome = match Did::parse(&did) {
                    Ok(typed) => process_did(&ctx, &typed).await,
                    // The queue holds parsed DIDs only; a row that does not parse fails.
                    Err(e) => {
                        tracing::warn!(did, error = %e, "backfill DID does not parse; failed");
                        DidOutcome {
                            did,
                            state: BackfillState::Failed,
                            error: Some(format!("stored DID does not parse: {e}")),
                            changes: Vec::new(),
                        }
                    }
                };
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
