//! `run`: the whole AppView in one process — firehose ingest, the verifier pool and the XRPC
//! server over one index — until SIGINT/SIGTERM, when in-flight work is committed and the
//! cursor saved.

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

/// Everything `run` needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The index file.
    pub db: PathBuf,
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
}

impl RunConfig {
    /// Validates the raw arguments.
    pub fn from_args(args: &RunArgs) -> anyhow::Result<RunConfig> {
        if args.upstream.is_some() {
            anyhow::bail!("--upstream (following another xmtp-appview) is not implemented yet");
        }
        let net = &args.network;
        let (xmtp_backend, xmtp_gateway) = config::xmtp_backend(net)?;
        let (plc, handle_resolver) = config::identity_urls(net)?;
        Ok(RunConfig {
            db: args.db.db.clone(),
            listen: config::parse_listen(&args.server.listen)?,
            relay: config::check_url("relay", &args.relay, &["ws", "wss"])?,
            discovery: args.discovery.discovery.clone(),
            plc,
            xmtp_api: config::xmtp_endpoint(net)?,
            handle_resolver,
            service_did: config::service_did(args.server.service_did.as_deref())?,
            reverify_after: config::parse_duration("reverify-after", &args.reverify_after)?,
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
        })
    }
}

/// A started AppView.
pub struct Running {
    /// Where the XRPC server listens.
    pub addr: SocketAddr,
    /// The live firehose status.
    pub live: Arc<firehose::LiveStatus>,
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
    let store = store::Store::open(&cfg.db)
        .with_context(|| format!("open the index {}", cfg.db.display()))?;
    let resolver = config::resolver(
        &cfg.plc,
        cfg.handle_resolver.as_deref(),
        cfg.allow_private_network,
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
    let (status, stop) = (live.clone(), shutdown.clone());
    tasks.spawn(async move {
        backfill::backfill_when_needed(backfill_cfg, backfill_deps, status, stop).await;
        Ok(())
    });

    let deps = firehose::FirehoseDeps {
        writer: store.writer(),
        reader: store.reader(),
        identity: Arc::new(resolver),
        fetcher: Arc::new(fetcher),
    };
    let (status, stop) = (live.clone(), shutdown.clone());
    tasks.spawn(async move {
        firehose::run(firehose_cfg, deps, status, stop)
            .await
            .context("firehose ingest")
    });

    let verifier_cfg = verifier::VerifierConfig {
        reverify_after: cfg.reverify_after,
        ..verifier::VerifierConfig::default()
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

    let mut state = xrpc::AppState::new(store.reader(), server::VERSION)
        .with_live(Arc::new(FirehoseLive(live.clone())));
    if let Some(did) = &cfg.service_did {
        state = state.with_service_did(did.clone());
    }
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("bind {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, relay = %cfg.relay, "xmtp-appview running");
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
    Ok(Running { addr, live, tasks })
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

/// The firehose's live status as the XRPC server's `getStatus` source.
struct FirehoseLive(Arc<firehose::LiveStatus>);

impl xrpc::LiveStatus for FirehoseLive {
    fn connected(&self) -> bool {
        self.0.is_connected()
    }

    fn lag_seconds(&self) -> Option<f64> {
        self.0.lag_seconds()
    }
}
