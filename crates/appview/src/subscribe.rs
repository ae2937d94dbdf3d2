//! `subscribeLinks` in the binary: the feed woken by the writer, and the pruner that keeps
//! the outbox to `--subscribe-retention`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often expired events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Starts the `subscribeLinks` feed over `store`, keeping the newest `kept_frames` frames in
/// memory, and the pruner of its outbox (until `shutdown`); the feed is closed by the server
/// when it stops.
pub fn start(
    store: &store::Store,
    retention: Duration,
    kept_frames: usize,
    shutdown: CancellationToken,
) -> xrpc::LinkFeed {
    let config = xrpc::LinkFeedConfig {
        recent: kept_frames,
        ..xrpc::LinkFeedConfig::default()
    };
    let feed = xrpc::LinkFeed::from_writer(store.reader(), store.writer().link_events(), config);
    tokio::spawn(store::prune_link_events(
        store.writer(),
        store.reader(),
        retention,
        PRUNE_EVERY,
        async move { shutdown.cancelled().await },
    ));
    feed
}
