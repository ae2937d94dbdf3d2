//! The d14n backend end to end: the whole AppView against the devnet's d14n node and
//! gateway. Re-verification is set to an hour, so a revocation that shows up in seconds
//! can only have come through the subscription.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use appview::cli::XmtpBackend;
use appview::cmd::run::start;
use devnet::world::{Devnet, DevnetConfig};
use devnet::xmtp::D14nStandIn;
use tokio_util::sync::CancellationToken;

use super::harness::{App, Env, wait_until};

/// A revocation must invalidate its link within this long.
const REVOCATION_BOUND: Duration = Duration::from_secs(5);

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A devnet with a d14n node, the cutover set to `cutover_ns`, and an AppView on `backend`.
async fn start_env(backend: XmtpBackend, cutover_ns: Option<u64>) -> (Env, D14nStandIn) {
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    let d14n = devnet.xmtp().start_d14n().await.unwrap();
    devnet.xmtp().set_d14n_cutover(cutover_ns);
    let mut env = Env {
        devnet,
        dir: tempfile::tempdir().unwrap(),
        app: None,
        http: reqwest::Client::new(),
        reverify_after: Duration::from_secs(3600),
    };
    let mut cfg = env.run_config(env.db());
    cfg.xmtp_backend = backend;
    cfg.xmtp_gateway = Some(d14n.gateway_url().to_string());
    let shutdown = CancellationToken::new();
    let running = start(cfg, None, shutdown.clone()).await.unwrap();
    let live = running.live.clone();
    env.app = Some(App {
        base: format!("http://{}", running.addr),
        running: Some(running),
        shutdown,
    });
    wait_until("the firehose connects", || {
        let live = live.clone();
        async move { live.is_connected() }
    })
    .await;
    (env, d14n)
}

/// Revokes the installation of `did`'s link and returns how long until it is `invalid`.
async fn revoke_and_time(env: &Env, did: &str) -> Duration {
    let t0 = Instant::now();
    env.devnet.revoke_link_installation(did).unwrap();
    let link = env.wait_status(did, "invalid").await;
    assert_eq!(link["reason"], "installation_revoked", "{link}");
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_verified_through_d14n_is_invalidated_within_5s_of_its_revocation() {
    let (env, d14n) = start_env(XmtpBackend::D14n, None).await;
    let user = env.devnet.create_user("dana").unwrap();
    env.devnet.link_inbox(&user.did).unwrap();
    env.wait_status(&user.did, "verified").await;
    assert!(d14n.calls("QueryEnvelopes") > 0, "verified through d14n");
    assert_eq!(
        env.devnet.xmtp().calls("GetIdentityUpdates"),
        0,
        "nothing read from v3"
    );
    wait_until("the inbox is subscribed", || async {
        d14n.calls("SubscribeEnvelopes") > 0
    })
    .await;
    let took = revoke_and_time(&env, &user.did).await;
    assert!(took < REVOCATION_BOUND, "revocation took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_mid_stream_loses_nothing_and_changes_no_status() {
    let cutover = now_ns() + 6_000_000_000;
    let (env, d14n) = start_env(XmtpBackend::Auto, Some(cutover)).await;
    let before = env.devnet.create_user("before").unwrap();
    env.devnet.link_inbox(&before.did).unwrap();
    env.wait_status(&before.did, "verified").await;
    assert!(
        env.devnet.xmtp().calls("GetIdentityUpdates") > 0,
        "read from v3 before the cutover"
    );
    assert_eq!(
        d14n.calls("QueryEnvelopes"),
        0,
        "not from d14n before the cutover"
    );
    // Across the switch the link keeps its status.
    while now_ns() < cutover + 500_000_000 {
        let link = env.link(&before.did).await.unwrap();
        assert_eq!(link["status"], "verified", "{link}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // An inbox created after the cutover exists only on d14n: verifying it proves the
    // switch, and the earlier link is still verified.
    let after = env.devnet.create_user("after").unwrap();
    env.devnet.link_inbox(&after.did).unwrap();
    env.wait_status(&after.did, "verified").await;
    assert!(
        d14n.calls("QueryEnvelopes") > 0,
        "read from d14n after the cutover"
    );
    assert_eq!(env.link(&before.did).await.unwrap()["status"], "verified");
    // A revocation after the cutover (only on d14n) still lands within the bound.
    let took = revoke_and_time(&env, &before.did).await;
    assert!(took < REVOCATION_BOUND, "revocation took {took:?}");
    assert_eq!(env.link(&after.did).await.unwrap()["status"], "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_d14n_node_outage_never_invalidates_anything() {
    let (env, d14n) = start_env(XmtpBackend::D14n, None).await;
    let early = env.devnet.create_user("early").unwrap();
    env.devnet.link_inbox(&early.did).unwrap();
    env.wait_status(&early.did, "verified").await;
    d14n.set_node_down(true);
    let late = env.devnet.create_user("late").unwrap();
    env.devnet.link_inbox(&late.did).unwrap();
    env.wait_status(&late.did, "pending").await;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(env.link(&early.did).await.unwrap()["status"], "verified");
        let link = env.link(&late.did).await.unwrap();
        assert_eq!(link["status"], "pending", "{link}");
    }
    d14n.set_node_down(false);
    env.wait_status(&late.did, "verified").await;
    assert_eq!(env.link(&early.did).await.unwrap()["status"], "verified");
}
