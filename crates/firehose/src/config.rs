//! [`FirehoseConfig`]: every knob of the consumer, with production defaults.

use std::time::Duration;

use crate::worker::WorkerConfig;
use crate::ws::TlsRoots;

/// Settings of the firehose consumer (the binary fills them from its flags).
#[derive(Debug, Clone)]
pub struct FirehoseConfig {
    /// Relay base URL (`wss://relay1.us-east.bsky.network`), or the full subscribeRepos URL.
    pub relay_url: String,
    /// The roots a `wss://` relay's certificate must chain to (the webpki roots; a test
    /// relay's CA in tests).
    pub tls_roots: TlsRoots,
    /// Audit mode: verify signature and inversion of every commit, not just relevant ones.
    pub verify_all_commits: bool,
    /// Capacity of the reader → processing channel (items, not bytes).
    pub channel_capacity: usize,
    /// A batch is written at least every this many events...
    pub batch_max_events: usize,
    /// ...or this often.
    pub batch_interval: Duration,
    /// WebSocket max message/frame size (≥ 5 MiB).
    pub max_message_bytes: usize,
    /// Connect (TCP + TLS + upgrade) timeout.
    pub connect_timeout: Duration,
    /// How often a ping is sent.
    pub ping_interval: Duration,
    /// No message at all (not even a pong) for this long = stalled connection.
    pub read_timeout: Duration,
    /// First reconnect delay.
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Delay before retrying after `FutureCursor` (the cursor is kept; an operator should look).
    pub future_cursor_retry: Duration,
    /// A first replayed seq more than this above our cursor means missed events.
    pub cursor_jump_threshold: i64,
    /// How long the stream waits for a signing key before deferring the repo to a resync.
    pub key_timeout: Duration,
    /// The resync / identity side workers.
    pub worker: WorkerConfig,
}

impl Default for FirehoseConfig {
    fn default() -> Self {
        Self {
            relay_url: "wss://bsky.network".into(),
            tls_roots: TlsRoots::WebPki,
            verify_all_commits: false,
            channel_capacity: 512,
            batch_max_events: 1_000,
            batch_interval: Duration::from_secs(1),
            max_message_bytes: 6 * 1024 * 1024,
            connect_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(20),
            read_timeout: Duration::from_secs(60),
            reconnect_initial: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(300),
            future_cursor_retry: Duration::from_secs(300),
            cursor_jump_threshold: 5_000_000,
            key_timeout: Duration::from_millis(250),
            worker: WorkerConfig::default(),
        }
    }
}
