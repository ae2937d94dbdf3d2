//! `AppState`: what every handler can reach (the reader pool, the live firehose status, the
//! version and the service DID).

use std::sync::{Arc, OnceLock};

use crate::subscribe::{LinkFeed, LinkFeedConfig};

/// The live state of ingestion, for `getStatus`. The binary implements it over the firehose.
pub trait LiveStatus: Send + Sync + 'static {
    /// Whether the firehose WebSocket is connected now.
    fn connected(&self) -> bool;
    /// Seconds between now and the time of the last event applied, when known.
    fn lag_seconds(&self) -> Option<f64>;
    /// The mirror's state, when the server follows an upstream AppView (`--upstream`).
    fn mirror(&self) -> Option<MirrorInfo> {
        None
    }
}

/// What `getStatus` says of a mirror (`run --upstream`): where its hints come from and
/// whether it still follows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorInfo {
    /// The upstream AppView's base URL.
    pub upstream: String,
    /// Whether the `subscribeLinks` stream to the upstream is connected now.
    pub connected: bool,
    /// The last upstream seq whose hint is saved, when any.
    pub upstream_seq: Option<i64>,
    /// Whole seconds since the upstream last answered (0 while connected).
    pub gone_seconds: u64,
    /// Whether the mirror gave up on the upstream and follows the relay firehose.
    pub failed_over: bool,
}

/// The live status of a server without ingest (`serve`, replicas, tests): never connected.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLiveStatus;

impl LiveStatus for NoLiveStatus {
    fn connected(&self) -> bool {
        false
    }
    fn lag_seconds(&self) -> Option<f64> {
        None
    }
}

/// Shared state of the router; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Read access to the index.
    pub reader: store::Reader,
    /// The live firehose status.
    pub live: Arc<dyn LiveStatus>,
    /// The version reported by `_health` and `getStatus`.
    pub version: Arc<str>,
    /// The AppView's own did:web, served at `/.well-known/did.json`.
    pub service_did: Option<Arc<str>>,
    /// Serving a read-only replica: `getStatus` then says how stale the copy is.
    pub read_only: bool,
    /// The `subscribeLinks` fan-out; without [`AppState::with_link_feed`], a feed that
    /// polls the outbox is started on the first subscription.
    link_feed: Arc<OnceLock<LinkFeed>>,
}

impl AppState {
    /// State with no live status and no service DID.
    pub fn new(reader: store::Reader, version: impl Into<Arc<str>>) -> AppState {
        AppState {
            reader,
            live: Arc::new(NoLiveStatus),
            version: version.into(),
            service_did: None,
            read_only: false,
            link_feed: Arc::new(OnceLock::new()),
        }
    }

    /// Sets the live firehose status.
    pub fn with_live(mut self, live: Arc<dyn LiveStatus>) -> AppState {
        self.live = live;
        self
    }

    /// Sets the did:web served at `/.well-known/did.json`.
    pub fn with_service_did(mut self, did: impl Into<Arc<str>>) -> AppState {
        self.service_did = Some(did.into());
        self
    }
}

impl AppState {
    /// Serves `subscribeLinks` from `feed` (one woken by the writer, in a process that
    /// writes).
    pub fn with_link_feed(mut self, feed: LinkFeed) -> AppState {
        self.link_feed = Arc::new(OnceLock::from(feed));
        self
    }

    /// The `subscribeLinks` fan-out (started polling on first use if none was set).
    pub fn link_feed(&self) -> LinkFeed {
        self.link_feed
            .get_or_init(|| LinkFeed::polling(self.reader.clone(), LinkFeedConfig::default()))
            .clone()
    }

    /// Ends every `subscribeLinks` stream and stops the feed, if one was started.
    pub fn close_link_feed(&self) {
        if let Some(feed) = self.link_feed.get() {
            feed.close();
        }
    }

    /// Marks the state as a read-only replica's (`serve --read-only`).
    pub fn with_read_only(mut self) -> AppState {
        self.read_only = true;
        self
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("reader", &self.reader)
            .field("version", &self.version)
            .field("service_did", &self.service_did)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}
