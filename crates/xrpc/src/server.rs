//! `serve`: runs an app on a listener with the guards of a [`ServerConfig`] until the
//! shutdown future resolves, then lets in-flight requests finish (graceful shutdown).
//!
//! The accept loop is ours rather than `axum::serve`'s, which has no connection cap and no
//! timer (so no header-read timeout): each connection holds one of `max_connections`
//! permits (beyond it: a 503 and close) and one of its client's
//! `max_connections_per_client` slots (beyond it: a 429 and close), is served by hyper's HTTP/1.1 with a header-read
//! timeout, and writes through [`WriteStall`]. The client's address is passed to the app as
//! `ConnectInfo<SocketAddr>` for the rate limiter.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::config::ServerConfig;
use crate::conn_limit::{ClientSlot, PerClientConnections};
use crate::guard::harden;
use crate::routes::router;
use crate::stall::WriteStall;
use crate::state::AppState;

/// The largest request head (request line and headers) read; a larger one is answered 431.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The whole answer to a connection over the cap (written best-effort before closing).
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 60\r\n\r\n\
{\"error\":\"Overloaded\",\"message\":\"too many open connections\"}";

/// The whole answer to a connection over its client's cap (written best-effort before
/// closing).
const OVER_CLIENT_CAP: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 85\r\n\r\n\
{\"error\":\"RateLimitExceeded\",\"message\":\"too many open connections from this address\"}";

/// Serves the XRPC router over `state` on `listener` with the default [`ServerConfig`]
/// until `shutdown` resolves; in-flight requests complete.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(listener, router(state), ServerConfig::default(), shutdown).await
}

/// Serves `app` on `listener` inside the guards of `cfg` (see the module docs) until
/// `shutdown` resolves; then stops accepting, lets in-flight requests complete and returns
/// once every connection is closed.
pub async fn serve_with<F>(
    listener: TcpListener,
    app: Router,
    cfg: ServerConfig,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let app = harden(app, &cfg);
    let max =
        u32::try_from(cfg.max_connections.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
    let connections = Arc::new(Semaphore::new(max as usize));
    let per_client = (cfg.max_connections_per_client > 0)
        .then(|| PerClientConnections::new(cfg.max_connections_per_client));
    let (closing_tx, closing) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a
                    // little rather than spin, and go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            metrics::counter!("xrpc_connections_rejected_total", "cap" => "total").increment(1);
            // Best effort: a full socket buffer just closes without the answer.
            let _ = tcp.try_write(OVER_CAPACITY);
            continue;
        };
        let slot = match &per_client {
            Some(table) => match table.try_acquire(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    metrics::counter!("xrpc_connections_rejected_total", "cap" => "client")
                        .increment(1);
                    let _ = tcp.try_write(OVER_CLIENT_CAP);
                    continue;
                }
            },
            None => None,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            // Small JSON answers: do not let Nagle hold them back.
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        tokio::spawn(serve_connection(
            tcp,
            peer,
            app.clone(),
            cfg,
            (permit, slot),
            closing.clone(),
        ));
    }
    drop(listener);
    drop(closing_tx);
    // Every connection holds a permit until it is closed.
    let _all_closed = connections.acquire_many(max).await;
    Ok(())
}

/// Serves one connection until it closes, or gracefully once `closing` says so.
async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    cfg: ServerConfig,
    _held: (OwnedSemaphorePermit, Option<ClientSlot>),
    mut closing: watch::Receiver<()>,
) {
    metrics::gauge!("xrpc_connections_open").increment(1.0);
    let io = TokioIo::new(WriteStall::new(tcp, cfg.write_timeout));
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move { app.oneshot(req.map(Body::new)).await }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    let result = tokio::select! {
        result = conn.as_mut() => Some(result),
        _ = closing.changed() => None,
    };
    let result = match result {
        Some(result) => result,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Header timeouts, resets, stalled writes: the client's doing, not a fault here.
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
    metrics::gauge!("xrpc_connections_open").decrement(1.0);
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
    metrics::describe_counter!(
        "xrpc_rate_limited_total",
        "Requests answered 429 RateLimitExceeded"
    );
    metrics::describe_counter!(
        "xrpc_rate_limit_table_full_total",
        "Requests refused because the rate limiter tracked as many clients as it may"
    );
    metrics::describe_counter!(
        "xrpc_overloaded_total",
        "Requests answered 503 Overloaded (too many in flight)"
    );
    metrics::describe_counter!(
        "xrpc_request_timeouts_total",
        "Requests answered 503 RequestTimeout"
    );
    metrics::describe_counter!(
        "xrpc_connections_rejected_total",
        "Connections refused at accept, by cap: total (max connections) or client (per-address cap)"
    );
    metrics::describe_counter!(
        "xrpc_write_stalls_total",
        "Connections closed because the client stopped reading"
    );
    metrics::describe_gauge!("xrpc_connections_open", "Open HTTP connections");
    metrics::describe_gauge!("xrpc_subscribers", "Open subscribeLinks streams");
    metrics::describe_counter!(
        "xrpc_subscribe_events_total",
        "Link events broadcast to subscribeLinks streams (each encoded once)"
    );
    metrics::describe_counter!(
        "xrpc_subscribe_too_slow_total",
        "subscribeLinks streams closed ConsumerTooSlow"
    );
}
