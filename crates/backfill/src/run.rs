//! [`run_backfill`]: one run of the backfill (discover, then fetch), resuming an unfinished
//! pass; [`backfill_when_needed`]: the policy `xmtp-appview run` follows (backfill when the
//! index has never been backfilled or a pass was interrupted, and again whenever the firehose
//! reports missed events).

use std::sync::Arc;
use std::time::Duration;

use store::{BackfillChange, Batch, Change};
use sync::{IdentitySource, RecordFetcher};
use tokio_util::sync::CancellationToken;

use crate::config::BackfillConfig;
use crate::discover::{Method, Paged, page_service};
use crate::error::BackfillError;
use crate::fetch::{FetchCtx, fetch_all};
use crate::http::{HostPool, PoliteFetcher};
use crate::progress::{BackfillReport, Progress};

/// What the backfill works with.
#[derive(Clone)]
pub struct BackfillDeps {
    /// The index writer.
    pub writer: store::Writer,
    /// The index reader (progress, work list).
    pub reader: store::Reader,
    /// Signing keys and PDS endpoints (the binary passes `identity::Resolver`).
    pub identity: Arc<dyn IdentitySource>,
    /// Verified handles, learned for every DID with a record (None: not learned).
    pub handles: Option<Arc<dyn IdentitySource>>,
    /// `sync.getRecord`; None builds a [`PoliteFetcher`] from the config.
    pub fetcher: Option<Arc<dyn RecordFetcher>>,
    /// Live counters for a progress bar.
    pub progress: Arc<Progress>,
}

/// True when the stored pass is finished: every configured service paged to the end and
/// no DID left pending.
async fn pass_finished(
    cfg: &BackfillConfig,
    reader: &store::Reader,
) -> Result<bool, BackfillError> {
    let sources = reader.backfill_sources().await?;
    let all_complete = cfg.discovery.iter().all(|base| {
        [Method::ByCollection, Method::ListRepos].iter().any(|m| {
            let key = m.source_key(base);
            sources.iter().any(|s| s.service == key && s.complete)
        })
    });
    Ok(all_complete && reader.backfill_counts().await?.pending == 0)
}

/// Whether a stored pass exists that has not finished (an interrupted backfill to resume), or
/// none was ever run.
pub async fn needs_backfill(
    cfg: &BackfillConfig,
    reader: &store::Reader,
) -> Result<bool, BackfillError> {
    Ok(!pass_finished(cfg, reader).await?)
}

/// Runs the backfill: resumes the stored pass if it is unfinished (or starts a new one if it
/// finished, or `cfg.fresh`), pages every discovery service, then fetches every DID.
/// Stops early, with `interrupted` set and progress saved, when `shutdown` fires.
pub async fn run_backfill(
    cfg: BackfillConfig,
    deps: BackfillDeps,
    shutdown: CancellationToken,
) -> Result<BackfillReport, BackfillError> {
    if cfg.discovery.is_empty() {
        return Err(BackfillError::NoDiscovery);
    }
    let started = tokio::time::Instant::now();
    let pool = Arc::new(HostPool::new(&cfg)?);
    let (writer, reader, progress) = (&deps.writer, &deps.reader, &deps.progress);

    if cfg.fresh || pass_finished(&cfg, reader).await? {
        writer
            .apply(Batch::of(vec![Change::Backfill(BackfillChange::NewPass)]))
            .await?;
        tracing::info!("backfill: starting a new pass");
    } else {
        let c = reader.backfill_counts().await?;
        if c.total() > 0 {
            tracing::info!(
                known = c.total(),
                pending = c.pending,
                "backfill: resuming an unfinished pass"
            );
        }
    }

    // 1. Discovery, one service after the other (a few requests per 2,000 DIDs).
    progress.set_discovering(true);
    let saved = reader.backfill_sources().await?;
    let mut report = BackfillReport::default();
    for base in &cfg.discovery {
        match page_service(&cfg, &pool, writer, &saved, base, &shutdown).await? {
            Paged::Complete => {}
            Paged::Failed => report.sources_failed += 1,
            Paged::Interrupted => report.interrupted = true,
        }
        progress.set_discovered(reader.backfill_counts().await?.total());
        if report.interrupted {
            break;
        }
    }
    progress.set_discovering(false);
    let counts = reader.backfill_counts().await?;
    progress.set_discovered(counts.total());
    progress.set_done_before(counts.indexed + counts.absent);
    tracing::info!(
        dids = counts.total(),
        to_fetch = counts.pending + counts.failed,
        "backfill: discovery done"
    );

    // 2. Fetch every DID still to do.
    if !report.interrupted {
        let fetcher = deps.fetcher.clone().unwrap_or_else(|| {
            Arc::new(PoliteFetcher::new(pool.clone(), cfg.allow_private_network))
        });
        let ctx = Arc::new(FetchCtx {
            cfg: cfg.clone(),
            identity: deps.identity.clone(),
            handles: deps.handles.clone(),
            fetcher,
        });
        report.interrupted = fetch_all(ctx, reader, writer, progress.clone(), &shutdown).await?;
    }

    report.discovered = progress.discovered();
    report.done_before = progress.done_before();
    report.indexed = progress.indexed();
    report.absent = progress.absent();
    report.failed = progress.failed();
    report.elapsed = started.elapsed();
    tracing::info!("{report}");
    Ok(report)
}

/// How often `backfill_when_needed` looks at the firehose's "missed events" flag.
const TRIGGER_POLL: Duration = Duration::from_secs(10);

/// What `xmtp-appview run` does: backfill at start when the index was never backfilled (or
/// a pass was interrupted), then again (a new pass) each time the firehose reports missed
/// events: `missed_events` reads and clears that flag (in `run`, the firehose's
/// `LiveStatus::take_needs_backfill`; backfill does not depend on the firehose). Returns when `shutdown` fires. A failed run is
/// logged and retried at the next trigger; it never stops the AppView. A pass left
/// unfinished (a discovery service or PDSes unreachable) is resumed after
/// `resume_unfinished_after`, doubling up to an hour while it stays unfinished.
pub async fn backfill_when_needed(
    cfg: BackfillConfig,
    deps: BackfillDeps,
    missed_events: impl Fn() -> bool + Send + Sync,
    shutdown: CancellationToken,
) {
    // An unfinished pass (a discovery service or PDSes unreachable) is resumed after a
    // growing delay, so a network fault at start-up does not leave the index half-filled
    // until the next restart.
    let (first_retry, max_retry) = (cfg.resume_unfinished_after, Duration::from_secs(3600));
    let mut retry_delay = first_retry;
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut first = true;
    loop {
        let wanted = if first {
            first = false;
            match needs_backfill(&cfg, &deps.reader).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "backfill: cannot read progress");
                    false
                }
            }
        } else {
            let due = retry_at.is_some_and(|t| tokio::time::Instant::now() >= t);
            missed_events() || due
        };
        if wanted {
            let cfg = BackfillConfig {
                fresh: false,
                ..cfg.clone()
            };
            if let Err(e) = run_backfill(cfg.clone(), deps.clone(), shutdown.clone()).await {
                tracing::warn!(error = %e, "backfill failed; will retry");
            }
            if shutdown.is_cancelled() {
                return;
            }
            retry_at = match needs_backfill(&cfg, &deps.reader).await {
                Ok(false) => {
                    retry_delay = first_retry;
                    None
                }
                Ok(true) | Err(_) => {
                    tracing::info!(
                        retry_in = ?retry_delay,
                        "backfill pass unfinished; resuming it later"
                    );
                    let at = tokio::time::Instant::now() + retry_delay;
                    retry_delay = (retry_delay * 2).min(max_retry);
                    Some(at)
                }
            };
        }
        let tick = retry_at.map_or(TRIGGER_POLL, |at| {
            at.saturating_duration_since(tokio::time::Instant::now())
                .min(TRIGGER_POLL)
        });
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}
