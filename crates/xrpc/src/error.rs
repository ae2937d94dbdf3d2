//! `XrpcError`: every error a handler returns, rendered as the ATProto `{"error","message"}`
//! body. Client errors are not logged; server faults are logged once, here, inside the
//! request's trace span.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An XRPC error response.
#[derive(Debug, thiserror::Error)]
pub enum XrpcError {
    /// 400: a parameter is missing, repeated or malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400: no verified handle or known DID for the actor.
    #[error("{0}")]
    ActorNotFound(String),
    /// 400: the actor is known but has no (visible, matching) link.
    #[error("{0}")]
    LinkNotFound(String),
    /// 400: no (visible, matching) link names the inbox.
    #[error("{0}")]
    InboxNotFound(String),
    /// 404: not an XRPC method this server has.
    #[error("{0}")]
    NotSupported(String),
    /// 405: the method exists but not for this HTTP verb.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 404 outside `/xrpc`: nothing here.
    #[error("{0}")]
    NotFound(String),
    /// 429: this client sent more requests than `--rate-limit` allows.
    #[error("{0}")]
    RateLimitExceeded(String),
    /// 503: the server is at its cap of requests in flight.
    #[error("{0}")]
    Overloaded(String),
    /// 503: the request took longer than the request timeout; its query was stopped.
    #[error("{0}")]
    RequestTimeout(String),
    /// 500: the index failed.
    #[error("index error: {0}")]
    Store(#[from] store::StoreError),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl XrpcError {
    /// The HTTP status and the ATProto error name.
    pub fn status_and_name(&self) -> (StatusCode, &'static str) {
        match self {
            XrpcError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "InvalidRequest"),
            XrpcError::ActorNotFound(_) => (StatusCode::BAD_REQUEST, "ActorNotFound"),
            XrpcError::LinkNotFound(_) => (StatusCode::BAD_REQUEST, "LinkNotFound"),
            XrpcError::InboxNotFound(_) => (StatusCode::BAD_REQUEST, "InboxNotFound"),
            XrpcError::NotSupported(_) => (StatusCode::NOT_FOUND, "XRPCNotSupported"),
            XrpcError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            XrpcError::NotFound(_) => (StatusCode::NOT_FOUND, "NotFound"),
            XrpcError::RateLimitExceeded(_) => (StatusCode::TOO_MANY_REQUESTS, "RateLimitExceeded"),
            XrpcError::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "Overloaded"),
            XrpcError::RequestTimeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "RequestTimeout"),
            XrpcError::Store(store::StoreError::BadCursor(_)) => {
                (StatusCode::BAD_REQUEST, "InvalidRequest")
            }
            XrpcError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        }
    }
}

impl IntoResponse for XrpcError {
    fn into_response(self) -> Response {
        let (status, name) = self.status_and_name();
        // Only real faults are logged (once, here); load shedding is counted by the guards,
        // and logging every shed request would turn a flood into a log flood.
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (
            status,
            Json(Body {
                error: name,
                message: &message,
            }),
        )
            .into_response();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
