//! The side workers: durable record resyncs and handle refreshes.
//!
//! **Resyncs** come from the store's resync queue (migration 0005), never from memory, so a
//! restart resumes every one and none is dropped for lack of room or attempts. A resync
//! asks the account's PDS for its status (`getRepoStatus`) and its record
//! (`sync.getRecord`, proof checked by [`sync::fetch_inbox_at`]) and writes the outcome in
//! one batch. Failures are attributed to a host (the PLC directory, a did:web host, a PDS):
//! a failing host is probed by one job at a time with delays capped at
//! [`WorkerConfig::max_host_backoff`], the jobs deferred on it are postponed in the queue
//! without holding a slot, and one success on the host makes them due again at once.
//!
//! **Handle refreshes** (after `#identity`, or a record change) run on a bounded channel;
//! a failed one is retried after a delay by a timer, not by a sleeping slot.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::now_millis as now_ms;
use store::{Batch, Change, DueResyncs, ResyncChange, ResyncItem};
use sync::hosts::{Admission, Hosts, identity_host, url_host};
use sync::{IdentitySource, InboxOutcome, LookupError, RecordFetcher, ResyncError};
use syntax::Did;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::metrics as m;
use crate::process::{MemRepo, Shared, remember_repo};

/// Settings of the side workers.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Resyncs run at once.
    pub concurrency: usize,
    /// How often the resync queue is read when nothing pokes the worker.
    pub poll_interval: Duration,
    /// First delay after a host fails.
    pub initial_host_backoff: Duration,
    /// Longest delay between two probes of a failing host (work deferred on a host is
    /// retried within this time after the host answers again).
    pub max_host_backoff: Duration,
    /// Delay after a permanent failure (bad proof, unknown DID): the row stays queued.
    pub permanent_retry: Duration,
    /// Handle refreshes queued at most (more are dropped: handles are also re-verified
    /// periodically).
    pub identity_queue: usize,
    /// Handle refreshes run at once.
    pub identity_concurrency: usize,
    /// Delay before a failed handle refresh is tried again.
    pub identity_retry: Duration,
    /// Every handle is re-verified both ways at least this often.
    pub handle_reverify_after: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            poll_interval: Duration::from_millis(500),
            initial_host_backoff: Duration::from_secs(1),
            max_host_backoff: Duration::from_secs(30),
            permanent_retry: Duration::from_secs(3600),
            identity_queue: 10_000,
            identity_concurrency: 4,
            identity_retry: Duration::from_secs(30),
            handle_reverify_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// Everything a worker needs.
pub(crate) struct WorkerCtx {
    pub identity: Arc<dyn IdentitySource>,
    pub fetcher: Arc<dyn RecordFetcher>,
    pub writer: store::Writer,
    pub reader: store::Reader,
    pub shared: Shared,
    pub cfg: WorkerConfig,
    /// Handle refreshes (the identity worker): a resync that proves a record asks for the
    /// DID's handle, since no `#identity` or record event may ever bring it (a mirror).
    pub handles: Option<mpsc::Sender<String>>,
}

/// Why a resync attempt failed, and at which host.
#[derive(Debug)]
struct Fault {
    host: String,
    transient: bool,
    why: String,
}

fn fault(host: String, e: ResyncError) -> Fault {
    let transient = e.is_transient();
    Fault {
        host,
        transient,
        why: e.to_string(),
    }
}

fn ms_from(at: Instant) -> i64 {
    now_ms() + at.saturating_duration_since(Instant::now()).as_millis() as i64
}

/// Writes a resync's outcome in one batch; a store failure is a transient fault.
async fn write(ctx: &WorkerCtx, changes: Vec<Change>) -> Result<(), Fault> {
    ctx.writer
        .apply(Batch::of(changes))
        .await
        .map_err(|e| Fault {
            host: "store".into(),
            transient: true,
            why: e.to_string(),
        })
}

/// When to repeat a resync that landed older than an event seen meanwhile: 2 s, doubling
/// with each repeat up to 5 minutes (a relay inflating revs cannot make it hammer a PDS).
fn repeat_delay_ms(attempts: u32) -> i64 {
    (2_000i64 << attempts.min(8)).min(300_000)
}

/// One resync: status and record from the PDS, written in one batch with the queue update.
async fn resync(ctx: &WorkerCtx, typed: &Did, attempts: u32) -> Result<(), Fault> {
    let did = typed.as_str();
    let pds = ctx
        .identity
        .pds_endpoint(typed)
        .await
        .map_err(|e| fault(identity_host(typed), e.into()))?;
    let host = url_host(&pds);
    let status = ctx
        .fetcher
        .repo_status(&pds, typed)
        .await
        .map_err(|e| fault(host.clone(), e.into()))?;
    if let Some(s) = status.as_ref().filter(|s| !s.active) {
        // An inactive account's PDS serves no records: apply the status (the link is
        // hidden, or removed with a rev floor when deleted) and stop here.
        let changes = vec![
            Change::AccountStatus {
                did: typed.clone(),
                active: false,
                status: s.status.clone(),
            },
            Change::Resync(ResyncChange::Forget { did: typed.clone() }),
        ];
        write(ctx, changes).await?;
        if let Ok(mut m) = ctx.shared.repos.lock() {
            m.remove(did);
        }
        if let Ok(mut set) = ctx.shared.desynced.lock() {
            set.remove(did);
        }
        metrics::counter!(m::RESYNCS, "outcome" => "inactive").increment(1);
        return Ok(());
    }
    let fetched = sync::fetch_inbox_at(ctx.identity.as_ref(), ctx.fetcher.as_ref(), typed, &pds)
        .await
        .map_err(|e| fault(host.clone(), e))?;
    let mut changes = Vec::new();
    if let Some(s) = &status {
        changes.push(Change::AccountStatus {
            did: typed.clone(),
            active: s.active,
            status: s.status.clone(),
        });
    }
    let commit = fetched.commit().cloned();
    changes.extend(fetched.changes());
    match &commit {
        Some(c) => changes.push(Change::Resync(ResyncChange::Landed {
            did: typed.clone(),
            rev: c.rev.clone(),
            retry_at: now_ms() + repeat_delay_ms(attempts),
        })),
        None => {
            // RecordNotFound without a proof: not evidence. Try again later.
            return Err(Fault {
                host,
                transient: false,
                why: "getRecord said RecordNotFound without a proof".into(),
            });
        }
    }
    write(ctx, changes).await?;
    if let Some(c) = commit {
        remember_repo(
            &ctx.shared.repos,
            did,
            MemRepo {
                rev: c.rev,
                data: Some(c.data_cid),
                commit: Some(c.commit_cid),
            },
        );
    }
    if let Some(s) = status
        && s.status.as_deref() == Some("deleted")
        && let Ok(mut m) = ctx.shared.repos.lock()
    {
        m.remove(did);
    }
    if let Ok(mut s) = ctx.shared.desynced.lock() {
        s.remove(did);
    }
    if matches!(fetched.outcome, InboxOutcome::Present { .. }) {
        if let Some(tx) = &ctx.handles {
            // Waits for room rather than dropping: nothing else would bring this handle.
            let _ = tx.send(did.to_owned()).await;
        }
        metrics::counter!(m::RESYNCS, "outcome" => "applied").increment(1);
    } else {
        metrics::counter!(m::RESYNCS, "outcome" => "applied_absent").increment(1);
    }
    tracing::info!(did, "resync applied");
    Ok(())
}

/// Runs due resyncs until `shutdown` fires (running ones are then aborted: they are
/// idempotent and still queued).
pub(crate) async fn run_resyncs(ctx: Arc<WorkerCtx>, shutdown: CancellationToken) {
    let cfg = ctx.cfg.clone();
    let mut hosts = Hosts::new(cfg.initial_host_backoff, cfg.max_host_backoff);
    // The host a DID last failed at: its next attempt is admitted by that host's backoff.
    let mut last_host: std::collections::HashMap<String, String> = Default::default();
    let mut inflight: HashSet<Did> = HashSet::new();
    let mut tasks: JoinSet<(Did, Result<(), Fault>)> = JoinSet::new();
    let concurrency = cfg.concurrency.max(1);
    let mut gauge_at = Instant::now();
    loop {
        if gauge_at <= Instant::now() {
            gauge_at = Instant::now() + Duration::from_secs(5);
            if let Ok(n) = ctx.reader.resync_pending().await {
                metrics::gauge!(m::RESYNC_PENDING).set(n as f64);
            }
        }
        if tasks.len() < concurrency {
            let due = match ctx.reader.due_resyncs(now_ms(), concurrency * 8).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the resync queue");
                    DueResyncs::default()
                }
            };
            // Only parsed DIDs are queued; a row that does not parse (skipped, logged and
            // counted by the store) is dropped.
            let mut postponed: Vec<Change> = due
                .unparsed
                .into_iter()
                .map(|did| Change::Resync(ResyncChange::DropUnparsed { did }))
                .collect();
            let now = Instant::now();
            for ResyncItem {
                did: typed,
                attempts,
                ..
            } in due.items
            {
                if tasks.len() >= concurrency {
                    break;
                }
                if inflight.contains(&typed) {
                    continue;
                }
                let host = last_host
                    .get(typed.as_str())
                    .cloned()
                    .unwrap_or_else(|| identity_host(&typed));
                if let Admission::WaitUntil(at) = hosts.admit(&host, now) {
                    postponed.push(Change::Resync(ResyncChange::Postpone {
                        did: typed,
                        until: ms_from(at),
                    }));
                    continue;
                }
                inflight.insert(typed.clone());
                let ctx = ctx.clone();
                tasks.spawn(async move {
                    let r = resync(&ctx, &typed, attempts).await;
                    (typed, r)
                });
            }
            if !postponed.is_empty()
                && let Err(e) = ctx.writer.apply(Batch::of(postponed)).await
            {
                tracing::warn!(error = %e, "could not postpone resyncs");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ctx.shared.wake.notified() => {}
            _ = tokio::time::sleep(cfg.poll_interval) => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((did, r)) = done else { continue };
                inflight.remove(&did);
                finish(&ctx, &mut hosts, &mut last_host, did, r).await;
            }
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

async fn finish(
    ctx: &WorkerCtx,
    hosts: &mut Hosts,
    last_host: &mut std::collections::HashMap<String, String>,
    did: Did,
    r: Result<(), Fault>,
) {
    match r {
        Ok(()) => {
            if let Some(h) = last_host.remove(did.as_str()) {
                hosts.succeeded(&h);
            }
            // The identity host and the PDS both answered.
            hosts.succeeded(&identity_host(&did));
        }
        Err(f) => {
            let next = if f.transient {
                metrics::counter!(m::RESYNCS, "outcome" => "deferred").increment(1);
                tracing::info!(%did, host = f.host, why = f.why, "resync deferred");
                ms_from(hosts.failed(&f.host, Instant::now()))
            } else {
                metrics::counter!(m::RESYNCS, "outcome" => "failed").increment(1);
                tracing::warn!(
                    %did,
                    host = f.host,
                    why = f.why,
                    "resync failed; kept queued"
                );
                now_ms() + ctx.cfg.permanent_retry.as_millis() as i64
            };
            if f.transient {
                last_host.insert(did.to_string(), f.host);
            }
            let change = Change::Resync(ResyncChange::Failed {
                did,
                error: f.why,
                next_attempt: next,
            });
            if let Err(e) = ctx.writer.apply(Batch::of(vec![change])).await {
                tracing::warn!(error = %e, "could not record a resync failure");
            }
        }
    }
}

async fn refresh_identity(ctx: &WorkerCtx, did: &str) -> Result<(), LookupError> {
    // DIDs come in as text from the processor's queue: a malformed one has no handle.
    let typed = Did::parse(did).map_err(|e| LookupError::NotFound(format!("{did}: {e}")))?;
    let handle = ctx.identity.refresh_handle(&typed).await?;
    ctx.writer
        .apply(Batch::of(vec![Change::Handle { did: typed, handle }]))
        .await
        .map_err(|e| LookupError::Transient(e.to_string()))
}

/// Queues a re-verification of every handle not verified within `handle_reverify_after`,
/// a slice at a time, until `shutdown` fires. A handle that no longer resolves back to its
/// DID is then dropped from the index.
pub(crate) async fn run_handle_sweep(
    ctx: Arc<WorkerCtx>,
    tx: mpsc::Sender<String>,
    shutdown: CancellationToken,
) {
    let every = (ctx.cfg.handle_reverify_after / 24)
        .clamp(Duration::from_secs(1), Duration::from_secs(3600));
    // A landed link's handle check is queued only in memory: a crash between the two leaves
    // the link without a handle and nothing to check it. So once at start-up every visible
    // link without a handle is checked again (the periodic sweep only sees known handles).
    if !recheck_links_without_handle(&ctx, &tx, &shutdown).await {
        return;
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let before = now_ms() - ctx.cfg.handle_reverify_after.as_millis() as i64;
        let dids = match ctx.reader.handles_due(before, 1_000).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "could not read handles due for re-verification");
                continue;
            }
        };
        for did in dids {
            if tx.send(did.into_string()).await.is_err() {
                return;
            }
        }
    }
}

/// Queues a handle check for every visible link without a handle, in pages of 1,000;
/// `false` when the queue closed or `shutdown` fired.
async fn recheck_links_without_handle(
    ctx: &WorkerCtx,
    tx: &mpsc::Sender<String>,
    shutdown: &CancellationToken,
) -> bool {
    let mut after: Option<String> = None;
    let mut queued = 0_usize;
    loop {
        let page = match ctx.reader.links_without_handle(after.clone(), 1_000).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "could not list links without a handle");
                return true;
            }
        };
        let Some(last) = page.last().map(Did::to_string) else {
            break;
        };
        for did in page {
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                sent = tx.send(did.into_string()) => if sent.is_err() { return false },
            }
            queued += 1;
        }
        after = Some(last);
    }
    if queued > 0 {
        tracing::info!(queued, "re-checking the handles of links that have none");
    }
    true
}

/// Runs handle refreshes from `rx` until it closes or `shutdown` fires. A transient failure
/// is retried once after `identity_retry`, by a timer that holds no slot; after that the
/// handle waits for the next `#identity`, record change or periodic sweep, so a dead host
/// is not asked again every 30 s.
pub(crate) async fn run_identity(
    ctx: Arc<WorkerCtx>,
    mut rx: mpsc::Receiver<String>,
    retry_tx: mpsc::Sender<String>,
    shutdown: CancellationToken,
) {
    let sem = Arc::new(Semaphore::new(ctx.cfg.identity_concurrency.max(1)));
    let mut inflight: HashSet<String> = HashSet::new();
    let mut retried: HashSet<String> = HashSet::new();
    let mut tasks: JoinSet<(String, bool)> = JoinSet::new();
    loop {
        let did = tokio::select! {
            _ = shutdown.cancelled() => break,
            d = rx.recv() => match d { Some(d) => d, None => break },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((did, transient)) = done else { continue };
                inflight.remove(&did);
                if !transient {
                    retried.remove(&did);
                } else if retried.insert(did.clone()) {
                    let (tx, delay) = (retry_tx.clone(), ctx.cfg.identity_retry);
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = tx.try_send(did);
                    });
                } else {
                    retried.remove(&did);
                    tracing::info!(did, "handle refresh failed twice; left to the next sweep");
                }
                continue;
            }
        };
        if !inflight.insert(did.clone()) {
            continue;
        }
        let (ctx, sem) = (ctx.clone(), sem.clone());
        tasks.spawn(async move {
            let res = match sem.acquire().await {
                Ok(_permit) => refresh_identity(&ctx, &did).await,
                Err(_) => return (did, false),
            };
            let transient = matches!(&res, Err(LookupError::Transient(_)));
            if let Err(e) = res {
                tracing::info!(did, error = %e, "handle refresh failed");
            }
            (did, transient)
        });
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::repeat_delay_ms;

    #[test]
    fn repeats_of_a_resync_back_off_to_five_minutes() {
        assert_eq!(repeat_delay_ms(0), 2_000);
        assert_eq!(repeat_delay_ms(1), 4_000);
        assert_eq!(repeat_delay_ms(7), 256_000);
        assert_eq!(repeat_delay_ms(8), 300_000);
        assert_eq!(repeat_delay_ms(u32::MAX), 300_000);
    }
}
