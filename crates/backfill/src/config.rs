//! [`BackfillConfig`]: every knob of the backfill, with production defaults.

use std::time::Duration;

/// Settings of one backfill (the binary fills them from its flags).
#[derive(Debug, Clone)]
pub struct BackfillConfig {
    /// Discovery services (relays with `listReposByCollection`, or PDSes with `listRepos`).
    pub discovery: Vec<String>,
    /// The collection to look for.
    pub collection: String,
    /// Page size of `listReposByCollection` (1..=2000).
    pub page_limit: usize,
    /// Page size of the `listRepos` fallback (1..=1000).
    pub list_repos_limit: usize,
    /// DIDs processed at once, over all hosts.
    pub concurrency: usize,
    /// Requests in flight to one host at once (PDS, discovery service).
    pub per_host_concurrency: usize,
    /// Deadline of one HTTP request (connect, headers and body).
    pub request_timeout: Duration,
    /// HTTP attempts per request (429, 5xx, timeouts, connection errors are retried).
    pub http_attempts: u32,
    /// Attempts per DID (identity lookups and fetches that stayed transient).
    pub did_attempts: u32,
    /// First retry delay (doubles each attempt, with jitter).
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured (longer ones are capped).
    pub max_retry_after: Duration,
    /// Outcomes written per store batch.
    pub write_batch: usize,
    /// Longest wait before a partial batch is written.
    pub write_interval: Duration,
    /// Start a new pass even if the stored one was not finished.
    pub fresh: bool,
    /// In `run`: first delay before resuming a pass left unfinished (doubles up to 1 h).
    pub resume_unfinished_after: Duration,
    /// Allow PDS hosts on loopback and private ranges (SSRF guard off: devnet, tests).
    pub allow_private_network: bool,
    /// The HTTP user agent.
    pub user_agent: String,
}

impl Default for BackfillConfig {
    fn default() -> Self {
        Self {
            discovery: vec!["https://relay1.us-east.bsky.network".into()],
            collection: sync::INBOX_COLLECTION.into(),
            page_limit: 2000,
            list_repos_limit: 1000,
            concurrency: 64,
            per_host_concurrency: 8,
            resume_unfinished_after: Duration::from_secs(60),
            request_timeout: Duration::from_secs(15),
            http_attempts: 5,
            did_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            write_batch: 500,
            write_interval: Duration::from_millis(200),
            fresh: false,
            allow_private_network: false,
            user_agent: concat!("xmtp-appview-backfill/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}
