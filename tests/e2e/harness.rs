//! The test environment: a devnet, an AppView over a temporary index pointed at it, and
//! small helpers to query it and to wait for the index to catch up.

use std::path::PathBuf;
use std::time::Duration;

use appview::cli::XmtpBackend;
use appview::cmd::run::{RunConfig, Running, TierConfig, start};
use devnet::world::{Devnet, DevnetConfig};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How long any expected change may take to show up.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A devnet plus one AppView.
pub struct Env {
    pub devnet: Devnet,
    pub dir: tempfile::TempDir,
    pub app: Option<App>,
    pub http: reqwest::Client,
    /// Re-check verified links this often (short, so revocations show up in tests).
    pub reverify_after: Duration,
}

/// A running AppView.
pub struct App {
    pub base: String,
    pub running: Option<Running>,
    pub shutdown: CancellationToken,
}

impl Env {
    /// Starts a devnet and an AppView connected to it.
    pub async fn start() -> Env {
        // `RUST_LOG=debug cargo nextest run -p e2e` shows the AppView's logs.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_writer(std::io::stderr)
                .try_init();
        }
        let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
        let mut env = Env {
            devnet,
            dir: tempfile::tempdir().unwrap(),
            app: None,
            http: reqwest::Client::new(),
            reverify_after: Duration::from_secs(2),
        };
        env.start_app().await;
        env
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("index.sqlite")
    }

    /// The `run` configuration that points at this devnet, over the index at `db`.
    pub fn run_config(&self, db: PathBuf) -> RunConfig {
        let info = self.devnet.info();
        RunConfig {
            db,
            db_cache_mib: store::StoreOptions::DEFAULT_CACHE_MIB,
            listen: "127.0.0.1:0".parse().unwrap(),
            relay: info.relay_url,
            discovery: vec![info.discovery_url],
            plc: info.plc_url,
            xmtp_api: info.xmtp_api_url,
            handle_resolver: Some(info.handle_resolver_url),
            service_did: None,
            reverify_after: self.reverify_after,
            reverify_tier: TierConfig::default(),
            verify_all_commits: false,
            allow_private_network: true,
            xmtp_backend: XmtpBackend::V3,
            xmtp_gateway: None,
            upstream: None,
            upstream_grace: Duration::from_secs(300),
            subscribe_retention: Duration::from_secs(72 * 3600),
            subscribe_kept_frames: 16_384,
            identity_cache_entries: 100_000,
        }
    }

    /// (Re)starts the AppView over the same index and waits until it follows the relay.
    pub async fn start_app(&mut self) {
        let cfg = self.run_config(self.db());
        let shutdown = CancellationToken::new();
        let running = start(cfg, None, shutdown.clone()).await.unwrap();
        let live = running.live.clone();
        let base = format!("http://{}", running.addr);
        self.app = Some(App {
            base,
            running: Some(running),
            shutdown,
        });
        wait_until("the firehose connects", || {
            let live = live.clone();
            async move { live.is_connected() }
        })
        .await;
    }

    /// Stops the AppView cleanly (in-flight work committed, cursor saved).
    pub async fn stop_app(&mut self) {
        let mut app = self.app.take().unwrap();
        app.shutdown.cancel();
        let running = app.running.take().unwrap();
        tokio::time::timeout(PATIENCE, running.wait(app.shutdown.clone()))
            .await
            .expect("the AppView stops within the patience")
            .unwrap();
    }

    fn base(&self) -> &str {
        &self.app.as_ref().unwrap().base
    }

    /// GET an XRPC method; returns (status, body).
    pub async fn xrpc(&self, method: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}/xrpc/{method}", self.base()))
            .query(query)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    /// The link of `actor` including unverified ones, or None when the index has none.
    pub async fn link(&self, actor: &str) -> Option<Value> {
        let (status, body) = self
            .xrpc(
                "org.xmtp.identity.resolveActor",
                &[("actor", actor), ("includeUnverified", "true")],
            )
            .await;
        (status == 200).then_some(body)
    }

    /// Waits until the link of `actor` has `status`, and returns it.
    pub async fn wait_status(&self, actor: &str, status: &str) -> Value {
        let mut last = None;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            last = self.link(actor).await;
            if last.as_ref().is_some_and(|l| l["status"] == status) {
                return last.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{actor} never became {status}; last seen: {last:?}");
    }

    /// Waits until the index has no link for `actor`.
    pub async fn wait_gone(&self, actor: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if self.link(actor).await.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the link of {actor} never went away");
    }
}

/// Polls `check` until it holds or the patience runs out.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}
