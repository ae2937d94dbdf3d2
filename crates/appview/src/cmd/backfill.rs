//! `backfill`: finds every repo that holds `org.xmtp.inbox` (relay `listReposByCollection`,
//! falling back to `listRepos` on a PDS) and indexes each record from a proof-checked
//! `sync.getRecord`. Resumable: run it again after a stop and it continues where it stopped.
//! A progress bar with rate and ETA on a terminal; periodic log lines otherwise; one summary
//! line at the end.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use ::backfill as engine;
use anyhow::Context;
use backfill::{BackfillConfig, BackfillDeps, BackfillReport, Progress};
use identity::Resolver;
use tokio_util::sync::CancellationToken;

use crate::cli::{BackfillArgs, DiscoveryArgs, NetworkArgs};
use crate::{config, server, shutdown};

/// The backfill settings for `discovery` services (validated URLs).
pub fn backfill_config(
    discovery: &[String],
    allow_private_network: bool,
) -> anyhow::Result<BackfillConfig> {
    let discovery = discovery
        .iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| config::check_url("discovery", d, &["http", "https"]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if discovery.is_empty() {
        anyhow::bail!("--discovery: at least one service is needed");
    }
    Ok(BackfillConfig {
        discovery,
        allow_private_network,
        user_agent: server::USER_AGENT.to_string(),
        ..BackfillConfig::default()
    })
}

/// The backfill's dependencies over an open index and a resolver.
pub fn backfill_deps(
    store: &store::Store,
    resolver: Resolver,
    progress: Arc<Progress>,
) -> BackfillDeps {
    BackfillDeps {
        writer: store.writer(),
        reader: store.reader(),
        identity: Arc::new(resolver.clone()),
        handles: Some(Arc::new(resolver)),
        fetcher: None,
        progress,
    }
}

fn discovery_list(d: &DiscoveryArgs) -> &[String] {
    &d.discovery
}

/// Shows progress until `done` fires: a bar on a terminal, a log line every 10 s otherwise.
async fn report_progress(progress: Arc<Progress>, done: CancellationToken) {
    let started = tokio::time::Instant::now();
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {pos}/{len} repos  {per_sec}  ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        loop {
            let total = progress.discovered().saturating_sub(progress.done_before());
            bar.set_length(total);
            bar.set_position(progress.finished());
            bar.set_message(if progress.discovering() {
                "discovering"
            } else {
                "fetching"
            });
            tokio::select! {
                _ = done.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        bar.finish_and_clear();
        return;
    }
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        let finished = progress.finished();
        let total = progress.discovered().saturating_sub(progress.done_before());
        let rate = finished as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let eta = (total.saturating_sub(finished) as f64 / rate.max(1e-3)).round();
        tracing::info!(
            discovering = progress.discovering(),
            finished,
            total,
            indexed = progress.indexed(),
            absent = progress.absent(),
            failed = progress.failed(),
            rate = format!("{rate:.0}/s"),
            eta_s = eta,
            "backfill progress"
        );
    }
}

/// Runs one backfill over the index at `db` (created and migrated if needed) until done or
/// `shutdown`; the library entry for tests and other commands.
pub async fn backfill_db(
    db: &Path,
    cfg: BackfillConfig,
    net: &NetworkArgs,
    progress: Arc<Progress>,
    shutdown: CancellationToken,
) -> anyhow::Result<BackfillReport> {
    let options = store::StoreOptions::default();
    backfill_db_with(db, options, cfg, net, progress, shutdown).await
}

/// [`backfill_db`] with the store settings `options` (`--db-cache-mib`).
pub async fn backfill_db_with(
    db: &Path,
    options: store::StoreOptions,
    cfg: BackfillConfig,
    net: &NetworkArgs,
    progress: Arc<Progress>,
    shutdown: CancellationToken,
) -> anyhow::Result<BackfillReport> {
    let store = store::Store::open_with(db, options)
        .with_context(|| format!("open the index {}", db.display()))?;
    let resolver = config::network_resolver(net)?;
    backfill::run_backfill(cfg, backfill_deps(&store, resolver, progress), shutdown)
        .await
        .context("backfill")
}

/// Runs `backfill` until done or SIGINT/SIGTERM (progress is saved either way).
pub async fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    if args.concurrency == 0 || args.per_host_concurrency == 0 {
        anyhow::bail!("--concurrency and --per-host-concurrency must be at least 1");
    }
    let cfg = BackfillConfig {
        concurrency: args.concurrency,
        per_host_concurrency: args.per_host_concurrency,
        fresh: args.fresh,
        ..backfill_config(
            discovery_list(&args.run.discovery),
            args.run.network.allow_private_network,
        )?
    };
    let progress = Arc::new(Progress::new());
    let shutdown = shutdown::on_signal();
    let done = CancellationToken::new();
    let reporter = tokio::spawn(report_progress(progress.clone(), done.clone()));
    let db = &args.run.db;
    let result = backfill_db_with(
        &db.db,
        db.store_options(),
        cfg,
        &args.run.network,
        progress,
        shutdown,
    )
    .await;
    done.cancel();
    drop(reporter.await);
    let report = result?;
    eprintln!("xmtp-appview: {report}");
    Ok(ExitCode::SUCCESS)
}
