//! The bounded side worker: record resyncs via `com.atproto.sync.getRecord` (gaps, `#sync`
//! events, unusable commits) and handle refreshes after `#identity` events. Jobs are
//! deduplicated per DID, run with bounded concurrency and retried with exponential backoff;
//! their changes go straight to the store writer (the store's newer-rev-wins rule orders
//! them against firehose batches).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::{Batch, Change};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::metrics as m;
use crate::process::{MemRepo, RepoCache, remember_repo};
use crate::resync::{ResyncError, fetch_inbox_changes};
use crate::source::{IdentitySource, LookupError, RecordFetcher};

/// A job for the side worker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Job {
    /// Refetch `org.xmtp.inbox/self` of this DID from its PDS.
    Resync(String),
    /// Invalidate the DID document and re-verify the handle.
    Identity(String),
}

impl Job {
    /// Short label for logs.
    pub fn label(&self) -> &'static str {
        match self {
            Job::Resync(_) => "resync",
            Job::Identity(_) => "identity",
        }
    }

    fn did(&self) -> &str {
        match self {
            Job::Resync(d) | Job::Identity(d) => d,
        }
    }
}

/// Settings of the side worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Queue length (jobs beyond it are dropped and counted).
    pub queue: usize,
    /// Attempts per job before giving up (a later gap schedules it again).
    pub max_attempts: u32,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            queue: 10_000,
            max_attempts: 6,
            initial_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

/// Everything a job needs.
pub(crate) struct WorkerCtx {
    pub identity: Arc<dyn IdentitySource>,
    pub fetcher: Arc<dyn RecordFetcher>,
    pub writer: store::Writer,
    pub repos: RepoCache,
    pub cfg: WorkerConfig,
}

/// Why a job attempt failed.
#[derive(Debug)]
enum JobError {
    /// Retry later.
    Transient(String),
    /// Retrying will not help (bad proof, bad signature).
    Permanent(String),
}

impl From<LookupError> for JobError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::NotFound(s) => JobError::Permanent(s),
            LookupError::Transient(s) => JobError::Transient(s),
        }
    }
}

async fn resync(ctx: &WorkerCtx, did: &str) -> Result<(), JobError> {
    let fetched = fetch_inbox_changes(ctx.identity.as_ref(), ctx.fetcher.as_ref(), did)
        .await
        .map_err(|e| match e {
            ResyncError::Transient(s) => JobError::Transient(s),
            ResyncError::Permanent(s) => JobError::Permanent(s),
        })?;
    let Some(commit) = fetched.commit().cloned() else {
        tracing::info!(
            did,
            "getRecord said RecordNotFound without a proof; nothing changed"
        );
        return Ok(());
    };
    ctx.writer
        .apply(Batch::of(fetched.changes()))
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?;
    let mem = MemRepo {
        rev: commit.rev,
        data: commit.data_cid,
        commit: commit.commit_cid,
    };
    remember_repo(&ctx.repos, did, mem);
    Ok(())
}

async fn refresh_identity(ctx: &WorkerCtx, did: &str) -> Result<(), JobError> {
    let handle = ctx.identity.refresh_handle(did).await?;
    ctx.writer
        .apply(Batch::of(vec![Change::Handle {
            did: did.to_owned(),
            handle,
        }]))
        .await
        .map_err(|e| JobError::Transient(e.to_string()))
}

async fn run_job(ctx: &WorkerCtx, job: &Job) {
    let mut backoff = Backoff::new(ctx.cfg.initial_backoff, ctx.cfg.max_backoff);
    for attempt in 1..=ctx.cfg.max_attempts {
        let res = match job {
            Job::Resync(did) => resync(ctx, did).await,
            Job::Identity(did) => refresh_identity(ctx, did).await,
        };
        let did = job.did();
        match res {
            Ok(()) => {
                if matches!(job, Job::Resync(_)) {
                    metrics::counter!(m::RESYNCS, "outcome" => "applied").increment(1);
                    tracing::info!(did, "resync applied");
                }
                return;
            }
            Err(JobError::Permanent(why)) => {
                metrics::counter!(m::RESYNCS, "outcome" => "failed").increment(1);
                tracing::warn!(did, job = job.label(), why, "job failed permanently");
                return;
            }
            Err(JobError::Transient(why)) => {
                tracing::info!(
                    did,
                    job = job.label(),
                    attempt,
                    why,
                    "job failed; will retry"
                );
                if attempt < ctx.cfg.max_attempts {
                    backoff.wait().await;
                }
            }
        }
    }
    metrics::counter!(m::RESYNCS, "outcome" => "gave_up").increment(1);
    tracing::warn!(
        did = job.did(),
        job = job.label(),
        "job gave up after retries"
    );
}

/// Runs jobs until `rx` closes or `shutdown` fires (running jobs are then aborted).
pub(crate) async fn run_worker(
    ctx: Arc<WorkerCtx>,
    mut rx: mpsc::Receiver<Job>,
    shutdown: CancellationToken,
) {
    let sem = Arc::new(Semaphore::new(ctx.cfg.concurrency.max(1)));
    let inflight: Arc<Mutex<HashSet<Job>>> = Arc::default();
    let mut tasks = JoinSet::new();
    loop {
        let job = tokio::select! {
            _ = shutdown.cancelled() => break,
            j = rx.recv() => match j { Some(j) => j, None => break },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let fresh = inflight
            .lock()
            .map(|mut s| s.insert(job.clone()))
            .unwrap_or(false);
        if !fresh {
            continue;
        }
        let (ctx, sem, inflight) = (ctx.clone(), sem.clone(), inflight.clone());
        tasks.spawn(async move {
            if let Ok(_permit) = sem.acquire().await {
                run_job(&ctx, &job).await;
            }
            if let Ok(mut s) = inflight.lock() {
                s.remove(&job);
            }
        });
    }
    // Finish quickly on shutdown; a dropped queue just ends the loop after running jobs.
    if shutdown.is_cancelled() {
        tasks.abort_all();
    }
    while tasks.join_next().await.is_some() {}
}
