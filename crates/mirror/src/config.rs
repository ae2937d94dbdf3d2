//! [`MirrorConfig`]: every knob of the follower, with production defaults.

use std::time::Duration;

/// Settings of the upstream follower.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// The upstream xmtp-appview's base URL (`https://host`).
    pub upstream: String,
    /// `listLinks` page size (the contract allows 1..1000).
    pub page_limit: usize,
    /// At most this many pages in one listing (a looping upstream cannot keep us forever).
    pub max_pages: usize,
    /// Largest `listLinks` response body read.
    pub max_page_bytes: usize,
    /// Largest `subscribeLinks` message read.
    pub max_frame_bytes: usize,
    /// Hints are written at least every this many events...
    pub batch_max: usize,
    /// ...or this often.
    pub batch_interval: Duration,
    /// Connect (TCP + TLS + upgrade) and HTTP request timeout.
    pub request_timeout: Duration,
    /// How often a ping is sent on the stream.
    pub ping_interval: Duration,
    /// No message at all (not even a pong) for this long = stalled connection.
    pub read_timeout: Duration,
    /// First reconnect delay.
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// An upstream without `subscribeLinks` is listed again this often.
    pub poll_interval: Duration,
}

impl MirrorConfig {
    /// Defaults for `upstream`; the poll interval is a tenth of `grace` (1 s to 30 s), so an
    /// upstream without a stream is seen answering several times within the grace.
    pub fn new(upstream: impl Into<String>, grace: Duration) -> Self {
        MirrorConfig {
            upstream: upstream.into().trim_end_matches('/').to_owned(),
            page_limit: 1000,
            max_pages: 100_000,
            max_page_bytes: 16 * 1024 * 1024,
            max_frame_bytes: 1024 * 1024,
            batch_max: 500,
            batch_interval: Duration::from_millis(50),
            request_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(20),
            read_timeout: Duration::from_secs(60),
            reconnect_initial: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(60),
            poll_interval: (grace / 10).clamp(Duration::from_secs(1), Duration::from_secs(30)),
        }
    }
}
