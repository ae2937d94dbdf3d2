//! The router: every query method under `/xrpc/`, `_health`, `/metrics`, the service DID
//! document, and the layers (metrics, tracing, timeout, CORS).

use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Serialize;
use tower_http::cors::{Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::did_doc::did_document;
use crate::error::XrpcError;
use crate::methods::{self, QUERY_METHODS};
use crate::state::AppState;

/// A request that takes longer than this is answered 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Rate-limit headers that browser apps may read (set by a proxy or a future limiter).
const EXPOSED: [HeaderName; 4] = [
    HeaderName::from_static("ratelimit-limit"),
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("ratelimit-reset"),
    HeaderName::from_static("ratelimit-policy"),
];

/// Builds the whole HTTP surface over `state`.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for nsid in QUERY_METHODS {
        if let Some(handler) = methods::handler(nsid) {
            app = app.route(
                &format!("/xrpc/{nsid}"),
                handler.fallback(method_not_allowed),
            );
        }
    }
    app.route("/xrpc/_health", get(health).fallback(method_not_allowed))
        .route_layer(middleware::from_fn(track))
        .route("/xrpc/{*method}", any(not_supported))
        .route("/metrics", get(metrics))
        .route("/.well-known/did.json", get(did_json))
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        // Server faults are logged once by `XrpcError`, so the trace layer does not log them.
        .layer(TraceLayer::new_for_http().on_failure(()))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
                .allow_headers(Any)
                .expose_headers(EXPOSED)
                .max_age(Duration::from_secs(86_400)),
        )
        .with_state(state)
}

/// Counts requests and their latency per method, labelled with the static NSID.
async fn track(req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().trim_start_matches("/xrpc/"))
        .unwrap_or("");
    let method: &'static str = QUERY_METHODS
        .iter()
        .find(|m| **m == path)
        .copied()
        .unwrap_or("_health");
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    let class = if status.is_success() {
        "2xx"
    } else if status.is_client_error() {
        "4xx"
    } else {
        "5xx"
    };
    metrics::counter!("xrpc_requests_total", "method" => method, "status" => class).increment(1);
    metrics::histogram!("xrpc_request_duration_seconds", "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

#[derive(Serialize)]
struct Health {
    version: String,
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        version: state.version.to_string(),
    })
}

async fn metrics(State(state): State<AppState>) -> Result<Response, XrpcError> {
    let handle = state
        .metrics
        .as_ref()
        .ok_or_else(|| XrpcError::NotFound("metrics are not enabled".into()))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

async fn did_json(State(state): State<AppState>) -> Result<Response, XrpcError> {
    let doc = state
        .service_did
        .as_deref()
        .and_then(did_document)
        .ok_or_else(|| XrpcError::NotFound("no did:web service DID is configured".into()))?;
    Ok(Json(doc).into_response())
}

async fn not_supported(req: Request) -> XrpcError {
    let method = req.uri().path().trim_start_matches("/xrpc/");
    XrpcError::NotSupported(format!("method not implemented: {method}"))
}

async fn method_not_allowed(req: Request) -> XrpcError {
    XrpcError::MethodNotAllowed(format!(
        "{} is not allowed here: XRPC queries take GET",
        req.method()
    ))
}

async fn not_found() -> XrpcError {
    XrpcError::NotFound("not found".into())
}
