//! The identity API as the verifier sees it: a trait, so that the v3 node client
//! ([`crate::client::GrpcIdentityApi`]) can be joined later by a d14n/xmtpd backend without
//! touching the verifier, plus its error type.
//!
//! Every [`ApiError`] is a transport or server fault: never evidence about a link. Evidence
//! comes only from a successful answer (an empty log, an update that fails replay).

use crate::signature::{ScwRequest, ScwVerdict};
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future (keeps the trait object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One log entry of an inbox, update kept encoded (decoded during replay so a malformed
/// update poisons only its own inbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the inbox log.
    pub sequence_id: u64,
    /// Server clock.
    pub server_timestamp_ns: u64,
    /// Encoded `xmtp.identity.associations.IdentityUpdate`.
    pub update: Vec<u8>,
}

/// The log entries of one inbox after the requested sequence id, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxLog {
    /// The inbox.
    pub inbox_id: String,
    /// New entries (empty when nothing is new, or the inbox does not exist).
    pub entries: Vec<LogEntry>,
}

/// A failed API call. None of these is evidence: the caller retries later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Connection refused/reset, TLS, HTTP/2 or `UNAVAILABLE`.
    #[error("identity API unavailable: {0}")]
    Unavailable(String),
    /// No answer in time.
    #[error("identity API timed out")]
    Timeout,
    /// `RESOURCE_EXHAUSTED`: the server's rate limit.
    #[error("identity API rate limit exhausted")]
    RateLimited,
    /// The answer did not decode or did not match the request.
    #[error("identity API answered garbage: {0}")]
    Malformed(String),
    /// Any other gRPC status.
    #[error("identity API error {code}: {message}")]
    Status {
        /// gRPC code name.
        code: String,
        /// Server message.
        message: String,
    },
    /// The endpoint URL is unusable.
    #[error("invalid identity API endpoint: {0}")]
    Endpoint(String),
}

impl ApiError {
    /// Worth retrying within the same call: not for a bad endpoint or a status that says
    /// the request itself is wrong. (The verifier still treats every error as a transport
    /// fault and tries the link again later.)
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Endpoint(_) => false,
            ApiError::Status { code, .. } => !matches!(
                code.as_str(),
                "InvalidArgument"
                    | "NotFound"
                    | "AlreadyExists"
                    | "PermissionDenied"
                    | "Unauthenticated"
                    | "FailedPrecondition"
                    | "OutOfRange"
                    | "Unimplemented"
            ),
            _ => true,
        }
    }

    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Timeout => "timeout",
            ApiError::RateLimited => "rate_limited",
            ApiError::Malformed(_) => "malformed",
            ApiError::Status { .. } => "status",
            ApiError::Endpoint(_) => "endpoint",
        }
    }
}

/// The calls the verifier needs from the XMTP network.
pub trait IdentityApi: Send + Sync {
    /// Log entries of each `(inbox_id, after_sequence_id)`, one [`InboxLog`] per request in
    /// request order. Implementations batch (≤ 50 per v3 request) and rate-limit themselves.
    fn get_identity_updates<'a>(
        &'a self,
        requests: &'a [(String, u64)],
    ) -> BoxFuture<'a, Result<Vec<InboxLog>, ApiError>>;

    /// On-chain smart-contract-wallet checks, one verdict per request, same order. A
    /// verdict the node could not reach ([`ScwVerdict::Error`]) is not evidence.
    fn verify_smart_contract_wallet_signatures<'a>(
        &'a self,
        requests: &'a [ScwRequest],
    ) -> BoxFuture<'a, Result<Vec<ScwVerdict>, ApiError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_errors_are_not_retried_but_faults_are() {
        let status = |code: &str| ApiError::Status {
            code: code.into(),
            message: String::new(),
        };
        assert!(!status("InvalidArgument").is_retryable());
        assert!(!ApiError::Endpoint("x".into()).is_retryable());
        assert!(status("Internal").is_retryable());
        assert!(ApiError::RateLimited.is_retryable());
        assert!(ApiError::Malformed("x".into()).is_retryable());
    }
}
