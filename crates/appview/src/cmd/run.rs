//! `run`: the whole AppView in one process — firehose ingest, the verifier pool and the XRPC
//! server over one index — until SIGINT/SIGTERM, when in-flight work is committed and the
//! cursor saved. With `--upstream`, the ingest is a [`mirror`] of another xmtp-appview instead
//! (its DIDs are hints for our own proof-checked resyncs), which fails over to the relay when
//! the upstream is gone longer than `--upstream-grace`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::{RunArgs, XmtpBackend};
use crate::config::HttpOptions;
use crate::{config, server, shutdown};

/// The active re-check tier's settings (a field of [`RunConfig`]).
pub use verifier::tier::TierConfig;

/// How often a mirror's verifier looks for new links when idle.
const MIRROR_VERIFIER_IDLE: Duration = Duration::from_millis(250);

/// Everything `run` needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The index file.
    pub db: PathBuf,
    /// SQLite page caches in all, MiB (`--db-cache-mib`).
    pub db_cache_mib: u32,
    /// XRPC listen address (port 0 picks one; see [`Running::addr`]).
    pub listen: SocketAddr,
    /// The relay's subscribeRepos base URL.
    pub relay: String,
    /// Where `listReposByCollection` is asked when a backfill is needed.
    pub discovery: Vec<String>,
    /// PLC directory.
    pub plc: String,
    /// XMTP identity API endpoint.
    pub xmtp_api: String,
    /// `resolveHandle` service instead of DNS/HTTPS.
    pub handle_resolver: Option<String>,
    /// The AppView's own did:web.
    pub service_did: Option<String>,
    /// Re-check verified links this old.
    pub reverify_after: Duration,
    /// The active re-check tier (`--reverify-active-after`, `--active-window`,
    /// `--reverify-active-budget`).
    pub reverify_tier: TierConfig,
    /// Audit every commit on the stream.
    pub verify_all_commits: bool,
    /// SSRF guard off (devnet, tests).
    pub allow_private_network: bool,
    /// Which XMTP network serves the identity logs.
    pub xmtp_backend: XmtpBackend,
    /// The d14n gateway (node discovery).
    pub xmtp_gateway: Option<String>,
    /// Another xmtp-appview to follow instead of the relay.
    pub upstream: Option<String>,
    /// With `upstream`: fall back to the relay after the upstream is gone this long.
    pub upstream_grace: Duration,
    /// How long `subscribeLinks` can replay.
    pub subscribe_retention: Duration,
    /// `subscribeLinks` frames kept in memory (`--subscribe-kept-frames`).
    pub subscribe_kept_frames: usize,
    /// Resolved identities kept in memory (`--identity-cache-entries`).
    pub identity_cache_entries: usize,
}

impl RunConfig {
    /// Validates the raw arguments.
    pub fn from_args(args: &RunArgs) -> anyhow::Result<RunConfig> {
        let net = &args.network;
        let (xmtp_backend, xmtp_gateway) = config::xmtp_backend(net)?;
        let (plc, handle_resolver) = config::identity_urls(net)?;
        Ok(RunConfig {
            db: args.db.db.clone(),
            db_cache_mib: args.db.db_cache_mib,
            listen: config::parse_listen(&args.server.listen)?,
            relay: config::check_url("relay", &args.relay, &["ws", "wss"])?,
            discovery: args.discovery.discovery.clone(),
            plc,
            xmtp_api: config::xmtp_endpoint(net)?,
            handle_resolver,
            service_did: config::service_did(args.server.service_did.as_deref())?,
            reverify_after: config::parse_duration("reverify-after", &args.reverify_after)?,
            reverify_tier: reverify_tier(args)?,
            verify_all_commits: args.verify_all_commits,
            allow_private_network: net.allow_private_network,
            xmtp_backend,
            xmtp_gateway,
            upstream: args
                .upstream
                .as_deref()
                .map(|u| config::check_url("upstream", u, &["http", "https"]))
                .transpose()?,
            upstream_grace: config::parse_duration("upstream-grace", &args.upstream_grace)?,
            subscribe_retention: config::parse_duration(
                "subscribe-retention",
                &args.subscribe_retention,
            )?,
            subscribe_kept_frames: args.subscribe_kept_frames as usize,
            identity_cache_entries: net.identity_cache_entries as usize,
        })
    }
}

/// The active re-check tier from `--reverify-active-after` (`0` or `off`: none; not shorter
/// than `--reverify-after`: none either, the daily tier is as often), `--active-window` and
/// `--reverify-active-budget`.
fn reverify_tier(args: &RunArgs) -> anyhow::Result<TierConfig> {
    let reverify_after = config::parse_duration("reverify-after", &args.reverify_after)?;
    let text = args.reverify_active_after.trim();
    let mut every = if matches!(text, "0" | "off") {
        Duration::ZERO
    } else {
        config::parse_duration("reverify-active-after", text)?
    };
    if every >= reverify_after {
        every = Duration::ZERO;
    }
    Ok(TierConfig {
        reverify_active_after: every,
        active_window: config::parse_duration("active-window", &args.active_window)?,
        active_budget_per_minute: args.reverify_active_budget,
    })
}

/// A started AppView.
pub struct Running {
    /// Where the XRPC server listens.
    pub addr: SocketAddr,
    /// The live firehose status.
    pub live: Arc<firehose::LiveStatus>,
    /// With `--upstream`: the follower's status (connected, failed over).
    pub mirror: Option<Arc<mirror::MirrorStatus>>,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Running {
    /// Waits until every component has stopped (after `shutdown` is cancelled, or the first
    /// fatal error, which cancels the rest).
    pub async fn wait(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let result = joined.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = result {
                tracing::error!(error = %format!("{e:#}"), "component failed; shutting down");
                shutdown.cancel();
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Opens the index and starts the firehose consumer, the verifier pool and the XRPC server
/// with the default HTTP options (rate limit on, no metrics listener).
pub async fn start(
    cfg: RunConfig,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start_with(cfg, HttpOptions::default(), metrics, shutdown).await
}

/// [`start`] with the HTTP options of `http`. `metrics` renders `/metrics` on
/// `http.metrics_listen` (install the recorder once per process); a metrics address without
/// a handle is an error.
pub async fn start_with(
    cfg: RunConfig,
    http: HttpOptions,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let options = store::StoreOptions::with_cache_mib(cfg.db_cache_mib);
    let store = store::Store::open_with(&cfg.db, options)
        .with_context(|| format!("open the index {}", cfg.db.display()))?;
    let resolver = config::resolver(
        &cfg.plc,
        cfg.handle_resolver.as_deref(),
        cfg.allow_private_network,
        cfg.identity_cache_entries,
    )?;
    let fetcher = sync::HttpRecordFetcher::new(server::USER_AGENT)
        .context("build the PDS HTTP client")?
        .allow_private_network(cfg.allow_private_network);
    let backends =
        crate::xmtp_backend::build(&cfg.xmtp_api, cfg.xmtp_backend, cfg.xmtp_gateway.as_deref())?;
    tracing::info!(backend = ?cfg.xmtp_backend, gateway = ?cfg.xmtp_gateway, "XMTP identity backend");

    let live = Arc::new(firehose::LiveStatus::new());
    let mut tasks = JoinSet::new();

    let defaults = firehose::FirehoseConfig::default();
    let firehose_cfg = firehose::FirehoseConfig {
        relay_url: cfg.relay.clone(),
        verify_all_commits: cfg.verify_all_commits,
        // A batch is committed when full or this old: at low rates this bounds how long a new
        // record waits before the verifier can see it (the default, 1 s, was most of the
        // record -> verified latency; issue 11).
        batch_interval: Duration::from_millis(100),
        worker: firehose::WorkerConfig {
            handle_reverify_after: cfg.reverify_after,
            ..defaults.worker.clone()
        },
        ..defaults
    };
    // Backfill on an empty (or interrupted) index and whenever the firehose finds its
    // cursor gone from the relay's window; shares the writer, and the store's
    // newer-rev-wins rule orders its results against firehose events.
    let backfill_cfg = super::backfill::backfill_config(&cfg.discovery, cfg.allow_private_network)?;
    let backfill_deps = super::backfill::backfill_deps(
        &store,
        resolver.clone(),
        Arc::new(super::backfill::engine::Progress::new()),
    );
    let relay = RelayIngest {
        firehose_cfg,
        deps: firehose::FirehoseDeps {
            writer: store.writer(),
            reader: store.reader(),
            identity: Arc::new(resolver),
            fetcher: Arc::new(fetcher),
        },
        live: live.clone(),
        backfill_cfg,
        backfill_deps,
    };
    let mirror = match cfg.upstream.clone() {
        None => {
            tasks.spawn(relay.run(false, shutdown.clone()));
            None
        }
        Some(upstream) => {
            let status =
                start_mirror(&mut tasks, upstream, cfg.upstream_grace, relay, &shutdown).await?;
            Some(status)
        }
    };

    let defaults = verifier::VerifierConfig::default();
    let verifier_cfg = verifier::VerifierConfig {
        reverify_after: cfg.reverify_after,
        tier: cfg.reverify_tier,
        // A mirror's new links arrive one resync at a time, not in relay batches: looking for
        // them every 250 ms instead of every second keeps "upstream change → served" under
        // 2 s (BENCHMARKS.md); an idle look is one probe of a partial index.
        idle_interval: if cfg.upstream.is_some() {
            MIRROR_VERIFIER_IDLE
        } else {
            defaults.idle_interval
        },
        ..defaults
    };
    if cfg.xmtp_backend == XmtpBackend::Auto {
        // Learn the cutover before the first round, then keep asking.
        backends.refresh_cutover(cfg.xmtp_gateway.is_some()).await;
        let (b, stop) = (backends.clone(), shutdown.clone());
        let gateway_known = cfg.xmtp_gateway.is_some();
        tasks.spawn(async move {
            b.poll_cutover(crate::xmtp_backend::CUTOVER_POLL, gateway_known, stop)
                .await;
            Ok(())
        });
    }
    let mut verifier = verifier::Verifier::new(
        verifier_cfg,
        store.reader(),
        store.writer(),
        backends.api.clone(),
    );
    // Pushed revocations: subscribe on d14n whenever a gateway is known (in `auto` the d14n
    // log carries the same updates before the cutover too).
    if cfg.xmtp_backend != XmtpBackend::V3
        && let Some(d14n) = backends.d14n.clone()
    {
        let (tx, rx) = tokio::sync::mpsc::channel(10_000);
        let (cached_tx, cached_rx) = tokio::sync::mpsc::unbounded_channel();
        verifier = verifier.with_rechecks(rx).with_cache_feed(cached_tx);
        let (reader, stop) = (store.reader(), shutdown.clone());
        tasks.spawn(async move {
            verifier::watch::run(
                verifier::watch::WatchConfig::default(),
                reader,
                d14n,
                tx,
                cached_rx,
                async move { stop.cancelled().await },
            )
            .await;
            Ok(())
        });
    }
    let stop = shutdown.clone();
    tasks.spawn(async move {
        verifier.run(async move { stop.cancelled().await }).await;
        Ok(())
    });

    let feed = crate::subscribe::start(
        &store,
        cfg.subscribe_retention,
        cfg.subscribe_kept_frames,
        shutdown.clone(),
    );
    let mut state = xrpc::AppState::new(store.reader(), server::VERSION)
        .with_live(Arc::new(IngestLive {
            firehose: live.clone(),
            mirror: mirror.clone().zip(cfg.upstream.as_deref().map(public_url)),
        }))
        .with_link_feed(feed);
    if let Some(did) = &cfg.service_did {
        state = state.with_service_did(did.clone());
    }
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("bind {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    match &cfg.upstream {
        Some(upstream) => tracing::info!(%addr, %upstream, "xmtp-appview running as a mirror"),
        None => tracing::info!(%addr, relay = %cfg.relay, "xmtp-appview running"),
    }
    let stop = shutdown.clone();
    let limits = http.server;
    tasks.spawn(async move {
        server::serve_on_with(listener, state, limits, stop).await?;
        Ok(())
    });
    if let Some(metrics_addr) = http.metrics_listen {
        let handle = metrics.context("--metrics-listen needs the metrics recorder installed")?;
        let listener = server::bind_metrics(metrics_addr).await?;
        tasks.spawn(server::serve_metrics(listener, handle, shutdown.clone()));
    }
    Ok(Running {
        addr,
        live,
        mirror,
        tasks,
    })
}

/// Runs `run` until SIGINT/SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let cfg = RunConfig::from_args(&args)?;
    let http = config::http_options(&args.server)?;
    let metrics = http
        .metrics_listen
        .map(|_| server::install_metrics())
        .transpose()?;
    let shutdown = shutdown::on_signal();
    let running = start_with(cfg, http, metrics, shutdown.clone()).await?;
    running.wait(shutdown).await?;
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

/// The relay side of `run`: firehose ingest plus the backfill it triggers.
struct RelayIngest {
    firehose_cfg: firehose::FirehoseConfig,
    deps: firehose::FirehoseDeps,
    live: Arc<firehose::LiveStatus>,
    backfill_cfg: backfill::BackfillConfig,
    backfill_deps: backfill::BackfillDeps,
}

impl RelayIngest {
    /// Runs until `shutdown` (or a store failure). `fresh_backfill` first runs a whole new
    /// backfill pass (a mirror failing over: the relay's window does not reach back to what
    /// the upstream never told us).
    async fn run(self, fresh_backfill: bool, shutdown: CancellationToken) -> anyhow::Result<()> {
        let stop = shutdown.child_token();
        let (bcfg, bdeps, live, bstop) = (
            self.backfill_cfg,
            self.backfill_deps,
            self.live.clone(),
            stop.clone(),
        );
        let backfill = async move {
            if fresh_backfill {
                let fresh = backfill::BackfillConfig {
                    fresh: true,
                    ..bcfg.clone()
                };
                if let Err(e) = backfill::run_backfill(fresh, bdeps.clone(), bstop.clone()).await {
                    tracing::warn!(error = %e, "failover backfill failed; will retry");
                }
            }
            backfill::backfill_when_needed(bcfg, bdeps, move || live.take_needs_backfill(), bstop)
                .await;
        };
        let ingest = async move {
            let r = firehose::run(self.firehose_cfg, self.deps, self.live, shutdown).await;
            stop.cancel();
            r.context("firehose ingest")
        };
        let ((), r) = tokio::join!(backfill, ingest);
        r
    }
}

/// Starts the mirror: the upstream follower feeding the resync queue, the resync worker
/// draining it, and a watch that fails over to `relay` once the upstream has been gone
/// longer than `grace`.
async fn start_mirror(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    upstream: String,
    grace: Duration,
    relay: RelayIngest,
    shutdown: &CancellationToken,
) -> anyhow::Result<Arc<mirror::MirrorStatus>> {
    let workers = firehose::SideWorkers::start(&relay.firehose_cfg, &relay.deps)
        .await
        .context("start the resync worker")?;
    let status = Arc::new(mirror::MirrorStatus::new());
    let deps = mirror::MirrorDeps {
        writer: relay.deps.writer.clone(),
        reader: relay.deps.reader.clone(),
        wake: workers.waker(),
    };
    let follow_stop = shutdown.child_token();
    let (st, stop) = (status.clone(), follow_stop.clone());
    let cfg = mirror::MirrorConfig::new(upstream.clone(), grace);
    tasks.spawn(async move {
        mirror::follow(cfg, deps, st, stop)
            .await
            .context("follow the upstream")
    });
    let (st, shutdown) = (status.clone(), shutdown.clone());
    tasks.spawn(async move {
        let gone = mirror::wait_gone(&st, grace, &shutdown).await;
        follow_stop.cancel();
        workers.stop().await;
        if !gone {
            return Ok(());
        }
        tracing::error!(
            %upstream,
            grace = %humantime::format_duration(grace),
            "UPSTREAM GONE longer than --upstream-grace: failing over to the relay firehose, \
             with a full backfill pass to cover the gap; restart with --upstream to mirror again"
        );
        st.set_failed_over();
        relay.run(true, shutdown).await
    });
    Ok(status)
}

/// `url` as `getStatus` may show it: without credentials, query or fragment.
fn public_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}{path}")
        .trim_end_matches('/')
        .to_owned()
}

/// The ingest's live status as the XRPC server's `getStatus` source: the upstream stream
/// while mirroring, the relay firehose otherwise (and after a failover).
struct IngestLive {
    firehose: Arc<firehose::LiveStatus>,
    /// The mirror's status and its upstream URL (`--upstream`).
    mirror: Option<(Arc<mirror::MirrorStatus>, String)>,
}

impl xrpc::LiveStatus for IngestLive {
    fn connected(&self) -> bool {
        match &self.mirror {
            Some((m, _)) if !m.failed_over() => m.is_connected(),
            _ => self.firehose.is_connected(),
        }
    }

    fn lag_seconds(&self) -> Option<f64> {
        match &self.mirror {
            Some((m, _)) if !m.failed_over() => None,
            _ => self.firehose.lag_seconds(),
        }
    }

    fn mirror(&self) -> Option<xrpc::MirrorInfo> {
        let (m, upstream) = self.mirror.as_ref()?;
        Some(xrpc::MirrorInfo {
            upstream: upstream.clone(),
            connected: m.is_connected(),
            upstream_seq: m.seq(),
            gone_seconds: m.gone_for().as_secs(),
            failed_over: m.failed_over(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::public_url;

    #[test]
    fn the_upstream_shown_by_get_status_carries_no_credentials() {
        assert_eq!(
            public_url("https://user:secret@up.example:8443/base?token=x#f"),
            "https://up.example:8443/base"
        );
        assert_eq!(public_url("http://127.0.0.1:2583"), "http://127.0.0.1:2583");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tier_tests {
    use super::*;
    use clap::Parser;

    fn tier(extra: &[&str]) -> anyhow::Result<TierConfig> {
        let args = ["xmtp-appview", "run"]
            .into_iter()
            .chain(extra.iter().copied());
        match crate::cli::Cli::try_parse_from(args)?.command {
            crate::cli::Command::Run(run) => reverify_tier(&run),
            _ => unreachable!("parsed `run`"),
        }
    }

    #[test]
    fn the_active_tier_is_on_by_default_and_off_when_not_more_frequent() {
        let on = tier(&[]).unwrap();
        assert_eq!(on, TierConfig::default());
        assert_eq!(on.reverify_active_after, Duration::from_secs(600));
        assert_eq!(on.active_window, Duration::from_secs(7 * 86_400));
        let custom = tier(&[
            "--reverify-active-after",
            "90s",
            "--active-window",
            "2d",
            "--reverify-active-budget",
            "500",
        ])
        .unwrap();
        assert_eq!(custom.reverify_active_after, Duration::from_secs(90));
        assert_eq!(custom.active_window, Duration::from_secs(2 * 86_400));
        assert_eq!(custom.active_budget_per_minute, 500);
        for off in [
            &["--reverify-active-after", "0"][..],
            &["--reverify-active-after", "off"],
        ] {
            assert!(!tier(off).unwrap().enabled(), "{off:?}");
        }
        // Not shorter than --reverify-after: the daily tier is as often.
        let same = tier(&["--reverify-after", "10m"]).unwrap();
        assert_eq!(same.reverify_active_after, Duration::ZERO);
        let err = tier(&["--active-window", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--active-window"), "{err}");
    }
}
