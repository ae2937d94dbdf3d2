//! Building the XMTP identity backend from `--xmtp-backend` / `--xmtp-gateway`:
//! `v3` (the `IdentityApi` of `--xmtp-api`), `d14n` (xmtpd nodes found through the gateway;
//! smart-contract-wallet checks still asked of the v3 node), or `auto` (v3 until the
//! cutover `FetchD14nCutover` announces, then d14n; polled every `CUTOVER_POLL`).

use crate::cli::XmtpBackend;
use anyhow::Context as _;
use std::sync::Arc;
use std::time::Duration;
use xmtp::api::IdentityApi;
use xmtp::d14n::{AutoIdentityApi, D14nConfig, D14nIdentityApi, fetch_d14n_cutover};

/// How often `auto` asks for the cutover.
pub const CUTOVER_POLL: Duration = Duration::from_secs(60);

/// The clients of one run.
#[derive(Clone)]
pub struct XmtpBackends {
    /// What the verifier reads through.
    pub api: Arc<dyn IdentityApi>,
    /// The v3 client (cutover polling, smart-contract-wallet checks).
    pub v3: xmtp::GrpcIdentityApi,
    /// The d14n client, when a gateway is known (subscriptions).
    pub d14n: Option<D14nIdentityApi>,
    /// The switch, for `auto` with a gateway.
    pub auto: Option<Arc<AutoIdentityApi>>,
}

/// Builds the clients (inside a Tokio runtime).
pub fn build(
    v3_endpoint: &str,
    backend: XmtpBackend,
    gateway: Option<&str>,
) -> anyhow::Result<XmtpBackends> {
    let v3 = xmtp::GrpcIdentityApi::new(xmtp::ClientConfig::new(v3_endpoint))
        .with_context(|| format!("XMTP identity API client for {v3_endpoint}"))?;
    let v3_dyn: Arc<dyn IdentityApi> = Arc::new(v3.clone());
    let d14n = gateway
        .map(|g| {
            D14nIdentityApi::new(D14nConfig::new(g), Some(v3_dyn.clone()))
                .with_context(|| format!("XMTP d14n client for gateway {g}"))
        })
        .transpose()?;
    let (api, auto): (Arc<dyn IdentityApi>, _) = match (backend, &d14n) {
        (XmtpBackend::V3, _) => (v3_dyn, None),
        (XmtpBackend::D14n, Some(d)) => (Arc::new(d.clone()), None),
        (XmtpBackend::D14n, None) => anyhow::bail!("--xmtp-backend d14n needs --xmtp-gateway"),
        (XmtpBackend::Auto, Some(d)) => {
            let auto = Arc::new(AutoIdentityApi::new(v3_dyn, Arc::new(d.clone())));
            (auto.clone() as Arc<dyn IdentityApi>, Some(auto))
        }
        (XmtpBackend::Auto, None) => (v3_dyn, None),
    };
    Ok(XmtpBackends {
        api,
        v3,
        d14n,
        auto,
    })
}

impl XmtpBackends {
    /// Asks for the cutover once and records it (`auto` only). A failure is logged: the
    /// current backend stays.
    pub async fn refresh_cutover(&self, gateway_known: bool) {
        match fetch_d14n_cutover(&self.v3).await {
            Ok(cutover) => {
                if let Some(auto) = &self.auto {
                    auto.set_cutover(cutover);
                    auto.active();
                } else if !gateway_known && let Some(ns) = cutover {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos() as u64)
                        .unwrap_or(0);
                    if now >= ns {
                        tracing::error!(
                            cutover_ns = ns,
                            "XMTP D14N CUTOVER PASSED but no --xmtp-gateway is set: new identity updates (installations, revocations) are invisible to this AppView"
                        );
                    }
                }
            }
            Err(e) => {
                tracing::info!(error = %e, "FetchD14nCutover failed; keeping the current XMTP backend")
            }
        }
    }

    /// Polls the cutover every `every` until `shutdown` (for `auto`).
    pub async fn poll_cutover(
        self,
        every: Duration,
        gateway_known: bool,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            self.refresh_cutover(gateway_known).await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
