//! The v3 re-check tiers end to end: the whole AppView on v3 (no push) with
//! `--reverify-after 1h` and `--reverify-active-after 1s`. A revocation of a recently
//! linked account shows up within the active bound; one of an account whose record is old
//! (a dormant link) waits for the daily tier.

use std::time::{Duration, Instant};

use appview::cmd::run::{TierConfig, start};
use devnet::world::{Devnet, DevnetConfig, INBOX_COLLECTION, INBOX_RKEY};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::harness::{App, Env, wait_until};

const ACTIVE_AFTER: Duration = Duration::from_secs(1);

/// The active bound at this setting: the interval, the one-second resolution of the
/// schedule, one idle interval (100 ms) and one round, plus slack for a loaded machine.
const ACTIVE_BOUND: Duration = Duration::from_secs(5);

async fn start_env() -> Env {
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    let mut env = Env {
        devnet,
        dir: tempfile::tempdir().unwrap(),
        app: None,
        http: reqwest::Client::new(),
        reverify_after: Duration::from_secs(3600),
    };
    let mut cfg = env.run_config(env.db());
    cfg.reverify_tier = TierConfig {
        reverify_active_after: ACTIVE_AFTER,
        ..TierConfig::default()
    };
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
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_v3_an_active_links_revocation_shows_within_the_active_bound_and_a_dormant_one_waits() {
    let env = start_env().await;
    let active = env.devnet.create_user("erin").unwrap();
    env.devnet.link_inbox(&active.did).unwrap();
    // A link whose record says it was made in 2024 (as a backfilled one would): dormant.
    let dormant = env.devnet.create_user("frank").unwrap();
    let inbox = env.devnet.xmtp().create_inbox();
    let record = json!({
        "$type": INBOX_COLLECTION,
        "id": inbox.inbox_id,
        "verificationSignature": inbox.sign_did(&dormant.did).unwrap(),
        "createdAt": "2024-01-01T00:00:00.000Z",
    });
    env.devnet
        .pds()
        .put_record(&dormant.did, INBOX_COLLECTION, INBOX_RKEY, record)
        .unwrap();
    env.wait_status(&active.did, "verified").await;
    env.wait_status(&dormant.did, "verified").await;

    let t0 = Instant::now();
    env.devnet
        .xmtp()
        .revoke_installation(&inbox.inbox_id, &inbox.installations[0].public_key())
        .unwrap();
    env.devnet.revoke_link_installation(&active.did).unwrap();
    let link = env.wait_status(&active.did, "invalid").await;
    let took = t0.elapsed();
    assert_eq!(link["reason"], "installation_revoked", "{link}");
    assert!(took < ACTIVE_BOUND, "the active link took {took:?}");

    // Several active intervals later the dormant link is still verified: only the daily
    // tier (here --reverify-after 1h) re-checks it.
    tokio::time::sleep(3 * ACTIVE_AFTER).await;
    let link = env.link(&dormant.did).await.unwrap();
    assert_eq!(link["status"], "verified", "{link}");
}
