//! The router: every query method under `/xrpc/`, `_health`, the service DID document, and
//! the per-method request metrics. `/metrics` is served apart (see [`crate::metrics_router`]).

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Serialize;

use crate::did_doc::did_document;
use crate::error::XrpcError;
use crate::methods::{self, QUERY_METHODS, SUBSCRIPTION_METHODS};
use crate::state::AppState;

/// Builds the XRPC surface over `state`: the query methods, `_health` and the service DID
/// document. The guards (rate limit, CORS, timeouts, caps) are added around the whole app
/// by [`crate::serve_with`].
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for nsid in QUERY_METHODS.iter().chain(SUBSCRIPTION_METHODS) {
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
        .route("/.well-known/did.json", get(did_json))
        .fallback(not_found)
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
        .chain(SUBSCRIPTION_METHODS)
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
