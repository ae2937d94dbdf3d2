//! Shared HTTP plumbing of the devnet servers: binding on loopback, graceful shutdown,
//! XRPC JSON errors, query parameters and list bodies, and the latency / rate-limit fault
//! layer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::AtmosphereError;
use super::locks::lock;

/// A running axum server on `127.0.0.1:<ephemeral>`; stops when dropped.
#[derive(Debug)]
pub(crate) struct ServerHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Binds `127.0.0.1:0` and serves `router` until the handle is dropped.
    pub(crate) async fn spawn(
        name: &'static str,
        router: Router,
        shutdown: watch::Sender<bool>,
    ) -> Result<ServerHandle, AtmosphereError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| AtmosphereError::Bind { name, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| AtmosphereError::Bind { name, source })?;
        let mut rx = shutdown.subscribe();
        let task = tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(error) = result {
                tracing::warn!(server = name, %error, "devnet server stopped with an error");
            }
        });
        tracing::debug!(server = name, %addr, "devnet server listening");
        Ok(ServerHandle {
            addr,
            shutdown,
            task,
        })
    }

    /// The bound socket address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

/// An XRPC error: status plus `{"error", "message"}` body.
#[derive(Debug, Clone)]
pub(crate) struct XrpcError {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl XrpcError {
    /// Builds an error with an explicit status.
    pub(crate) fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        XrpcError {
            status,
            error,
            message: message.into(),
        }
    }

    /// 400 `InvalidRequest`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        XrpcError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    /// 400 with a lexicon error name (the XRPC convention for declared errors).
    pub(crate) fn lexicon(error: &'static str, message: impl Into<String>) -> Self {
        XrpcError::new(StatusCode::BAD_REQUEST, error, message)
    }
}

impl IntoResponse for XrpcError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// Fallback for unknown routes: 404 `XRPCNotSupported` as the reference servers answer.
pub(crate) async fn not_supported() -> XrpcError {
    XrpcError::new(
        StatusCode::NOT_FOUND,
        "XRPCNotSupported",
        "method not implemented by the devnet",
    )
}

/// `GET /xrpc/_health`.
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "version": "devnet" }))
}

/// A required, non-empty query parameter.
pub(crate) fn param<'a>(
    params: &'a HashMap<String, String>,
    name: &str,
) -> Result<&'a str, XrpcError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| XrpcError::invalid(format!("{name} is required")))
}

/// The `limit` of a list query: 500 (at most `max`) when absent, else in `1..=max`.
pub(crate) fn limit_param(
    params: &HashMap<String, String>,
    max: usize,
) -> Result<usize, XrpcError> {
    match params.get("limit") {
        None => Ok(500.min(max)),
        Some(raw) => match raw.parse::<usize>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(XrpcError::invalid(format!(
                "limit must be an integer in 1..={max}"
            ))),
        },
    }
}

/// A repo's hosting state as `getRepoStatus` (and each `listRepos` entry) shows it.
pub(crate) fn repo_status_json(
    did: &str,
    active: bool,
    status: Option<&str>,
    rev: Option<&str>,
) -> serde_json::Value {
    let mut body = serde_json::json!({ "did": did, "active": active });
    if let Some(status) = status {
        body["status"] = serde_json::json!(status);
    }
    if let Some(rev) = rev {
        body["rev"] = serde_json::json!(rev);
    }
    body
}

/// A page of a list query: `{"repos": [...], "cursor"?}`.
pub(crate) fn repos_page(
    repos: Vec<serde_json::Value>,
    cursor: Option<&str>,
) -> Json<serde_json::Value> {
    let mut body = serde_json::json!({ "repos": repos });
    if let Some(cursor) = cursor {
        body["cursor"] = serde_json::json!(cursor);
    }
    Json(body)
}

/// Injected HTTP faults, shared between a server and its controls.
#[derive(Debug, Default, Clone)]
pub struct HttpFaults {
    /// Added before every response (the backfill benchmark uses ~20 ms).
    pub latency: Option<Duration>,
    /// The next `n` requests get `429 RateLimitExceeded` with `Retry-After`.
    pub rate_limit_next: u32,
    /// The `Retry-After` value in seconds sent with injected 429s.
    pub retry_after_secs: u64,
    /// Every request gets `503` (the service is down).
    pub unavailable: bool,
}

/// Shared, mutable [`HttpFaults`].
pub(crate) type SharedFaults = Arc<Mutex<HttpFaults>>;

/// Replaces the settings behind `shared`.
pub(crate) fn set_faults(shared: &SharedFaults, faults: HttpFaults) {
    *lock(shared) = faults;
}

/// Middleware applying [`HttpFaults`] to every request.
pub(crate) async fn fault_layer(
    State(faults): State<SharedFaults>,
    request: Request,
    next: Next,
) -> Response {
    let (latency, limited, retry_after, unavailable) = {
        let mut faults = lock(&faults);
        let limited = faults.rate_limit_next > 0;
        if limited {
            faults.rate_limit_next -= 1;
        }
        (
            faults.latency,
            limited,
            faults.retry_after_secs,
            faults.unavailable,
        )
    };
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    if unavailable {
        return XrpcError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NotEnoughResources",
            "down (injected by the devnet)",
        )
        .into_response();
    }
    if limited {
        let mut response = XrpcError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimitExceeded",
            "injected by the devnet",
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    next.run(request).await
}
