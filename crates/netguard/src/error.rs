//! [`NetError`]: why a guarded fetch failed, typed so callers can tell a refusal or a bad
//! answer (permanent) from a network fault (transient: never evidence about the target).

use reqwest::StatusCode;

/// Why a guarded GET failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The URL does not parse.
    #[error("bad URL: {0}")]
    BadUrl(String),
    /// The policy refuses the target: a scheme, a non-public address (literal, DNS answer or
    /// redirect hop), a `localhost` spelling, or an https→http redirect.
    #[error("refused: {0}")]
    Forbidden(String),
    /// More redirects than the policy allows.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// The body is longer than the caller's cap (announced or streamed).
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The cap that was exceeded.
        limit: usize,
    },
    /// Connect, response headers or the whole body took longer than the policy allows.
    #[error("timed out: {0}")]
    Timeout(String),
    /// DNS failure, refused or reset connection, TLS failure, broken body.
    #[error("network error: {0}")]
    Network(String),
    /// An unsuccessful HTTP status (only from [`crate::Fetched::error_for_status`]).
    #[error("HTTP {0}")]
    Status(StatusCode),
}

impl NetError {
    /// True for faults that say nothing about the target (retry later): timeouts, network
    /// errors, and the statuses 408, 425, 429 and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            NetError::Timeout(_) | NetError::Network(_) => true,
            NetError::Status(s) => is_transient_status(*s),
            NetError::BadUrl(_)
            | NetError::Forbidden(_)
            | NetError::TooManyRedirects(_)
            | NetError::TooLarge { .. } => false,
        }
    }

    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            NetError::BadUrl(_) => "bad_url",
            NetError::Forbidden(_) => "forbidden",
            NetError::TooManyRedirects(_) => "redirects",
            NetError::TooLarge { .. } => "too_large",
            NetError::Timeout(_) => "timeout",
            NetError::Network(_) => "network",
            NetError::Status(_) => "status",
        }
    }
}

/// 408, 425, 429 and 5xx: the server may answer differently later.
pub fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 425 | 429) || status.is_server_error()
}

/// A policy refusal raised inside reqwest (resolver, redirect policy); found again in the
/// error chain to produce [`NetError::Forbidden`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refusal(pub String);

/// The redirect limit, raised by the redirect policy.
#[derive(Debug, thiserror::Error)]
#[error("more than {0} redirects")]
pub(crate) struct RedirectLimit(pub usize);

/// Maps a reqwest error to a [`NetError`], looking through its source chain.
pub(crate) fn classify(err: &reqwest::Error) -> NetError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Refusal>() {
            return NetError::Forbidden(r.0.clone());
        }
        if let Some(r) = e.downcast_ref::<RedirectLimit>() {
            return NetError::TooManyRedirects(r.0);
        }
        cur = e.source();
    }
    let text = chain_text(err);
    if err.is_timeout() {
        NetError::Timeout(text)
    } else if err.is_builder() {
        NetError::BadUrl(text)
    } else {
        NetError::Network(text)
    }
}

/// The error and its sources, joined (reqwest's top-level text alone is vague).
fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cur = e.source();
    }
    text
}
