//! `serve`: runs the router on a listener until the shutdown future resolves, then lets
//! in-flight requests finish (graceful shutdown).

use std::future::Future;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::routes::router;
use crate::state::AppState;

/// Serves `state` on `listener` until `shutdown` resolves; in-flight requests complete.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = listener.tap_io(|tcp| {
        // Small JSON answers: do not let Nagle hold them back.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Describes the server's metrics once (call at start-up, after installing the recorder).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "xrpc_requests_total",
        "XRPC requests served, by method and status class"
    );
    metrics::describe_histogram!(
        "xrpc_request_duration_seconds",
        metrics::Unit::Seconds,
        "XRPC request latency, by method"
    );
}
