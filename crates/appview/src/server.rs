//! The HTTP surface of the binary: the XRPC router plus the status page at `/`, served until
//! shutdown with in-flight requests completed.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The status page: index counts, firehose lag and a lookup box, plain HTML and a little JS
/// that calls the XRPC methods (no build step).
const STATUS_PAGE: &str = include_str!("../assets/status.html");

/// The version every surface reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The User-Agent of every outbound HTTP request.
pub const USER_AGENT: &str = concat!("xmtp-appview/", env!("CARGO_PKG_VERSION"));

/// Installs the global Prometheus recorder once and returns its handle for `/metrics`.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("install the metrics recorder: {e}"))?;
    xrpc::describe_metrics();
    firehose::metrics::describe();
    verifier::describe_metrics();
    xmtp::client::describe_metrics();
    backfill::metrics::describe();
    netguard::describe_metrics();
    Ok(handle)
}

/// The whole router: XRPC, health, metrics, did.json and the status page.
pub fn app(state: xrpc::AppState) -> Router {
    xrpc::router(state).route("/", get(|| async { Html(STATUS_PAGE) }))
}

/// Binds `listen` and serves `state` until `shutdown` is cancelled.
pub async fn serve(
    listen: std::net::SocketAddr,
    state: xrpc::AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("bind {listen}: {e}"))?;
    tracing::info!(%listen, "XRPC server listening");
    serve_on(listener, state, shutdown).await
}

/// Serves `state` on an already bound listener until `shutdown` is cancelled.
pub async fn serve_on(
    listener: TcpListener,
    state: xrpc::AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // Small JSON answers: do not let Nagle hold them back.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
