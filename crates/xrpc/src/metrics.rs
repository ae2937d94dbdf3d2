//! `/metrics`: Prometheus text, on its own listener (`--metrics-listen`), never on the
//! public one.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::error::XrpcError;

/// The router of the metrics listener: `GET /metrics` renders `handle`; anything else is 404.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        handle.render(),
                    )
                        .into_response()
                }
            }),
        )
        .fallback(|| async { XrpcError::NotFound("not found".into()) })
}
