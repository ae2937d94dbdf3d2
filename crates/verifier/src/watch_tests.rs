//! The d14n push path through the devnet: the verifier reports cached inboxes, the watcher
//! subscribes to them and queues a pushed inbox, and `recheck_inboxes` re-judges its links
//! at once (long before `reverify_after`), never turning a fault into a verdict.

use crate::tests::env;
use crate::*;
use std::time::Duration;
use store::Status;
use xmtp::d14n::{D14nConfig, D14nIdentityApi};
use xmtp::ratelimit::RateLimit;

#[tokio::test]
async fn a_pushed_revocation_is_rechecked_now_and_the_link_turns_invalid() {
    let e = env().await;
    let d14n = e.node.start_d14n().await.unwrap();
    let inbox = e.node.create_inbox();
    e.put_signed("did:plc:alice", "bafyalice", &inbox).await;
    let (cached_tx, cached_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut v = e.verifier().with_cache_feed(cached_tx);
    v.round(pool::unix_now()).await.unwrap();
    assert_eq!(e.status("did:plc:alice").await.0, Status::Verified);

    let mut c = D14nConfig::new(d14n.gateway_url());
    c.client.rate_limit = RateLimit::UNLIMITED;
    let api = D14nIdentityApi::new(c, None).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(watch::run(
        watch::WatchConfig::default(),
        e.store.reader(),
        api,
        tx,
        cached_rx,
        async move {
            let _ = stop_rx.await;
        },
    ));
    // Subscribed from the cached position: nothing old is pushed.
    assert!(
        tokio::time::timeout(Duration::from_millis(800), rx.recv())
            .await
            .is_err(),
        "an already replayed update was pushed"
    );
    e.node
        .revoke_installation(&inbox.inbox_id, &inbox.installations[0].public_key())
        .unwrap();
    // Not due for a re-check for a day: only the push can flip it.
    assert_eq!(v.round(pool::unix_now()).await.unwrap().links, 0);
    let pushed = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pushed, inbox.inbox_id);
    let s = v
        .recheck_inboxes(vec![pushed], pool::unix_now())
        .await
        .unwrap();
    assert_eq!((s.links, s.invalid), (1, 1));
    let (status, reason, _) = e.status("did:plc:alice").await;
    assert_eq!(
        (status, reason.as_deref()),
        (Status::Invalid, Some("installation_revoked"))
    );
    let _ = stop_tx.send(());
    watcher.await.unwrap();
}

#[tokio::test]
async fn a_recheck_during_an_outage_keeps_the_link_verified() {
    let e = env().await;
    let inbox = e.node.create_inbox();
    e.put_signed("did:plc:bob", "bafybob0", &inbox).await;
    let mut v = e.verifier();
    v.round(pool::unix_now()).await.unwrap();
    e.node.set_down(true);
    let s = v
        .recheck_inboxes(vec![inbox.inbox_id.clone()], pool::unix_now())
        .await
        .unwrap();
    assert_eq!((s.links, s.retried, s.invalid), (1, 1, 0));
    assert_eq!(e.status("did:plc:bob").await.0, Status::Verified);
}
