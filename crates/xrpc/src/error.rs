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
        let message = if status.is_server_error() {
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
        response
    }
}
