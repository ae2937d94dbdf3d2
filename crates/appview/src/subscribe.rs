//! `subscribeLinks` in the binary: the feed woken by the writer, and the pruner that keeps
//! the outbox to `--subscribe-retention`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often expired events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Starts the `subscribeLinks` feed over `store` and the pruner of its outbox (until
/// `shutdown`); the feed is closed by the server when it stops.
pub fn start(
    store: &store::Store,
    retention: Duration,
    shutdown: CancellationToken,
) -> xrpc::LinkFeed {
    let feed = xrpc::LinkFeed::from_writer(
        store.reader(),
        store.writer().link_events(),
        xrpc::LinkFeedConfig::default(),
    );
    tokio::spawn(store::prune_link_events(
        store.writer(),
        store.reader(),
        retention,
        PRUNE_EVERY,
        async move { shutdown.cancelled().await },
    ));
    feed
}
