//! The re-check tiers on v3 (no push) through the devnet stand-in: active links are
//! re-checked every `reverify_active_after`, dormant ones every `reverify_after`, and the
//! active tier stays within its budget.

use crate::tests::{Env, env};
use crate::tier::TierConfig;
use crate::*;
use devnet::xmtp::DevInbox;
use std::time::Duration;
use store::{Batch, Change, RecordInput, Status};

const ACTIVE_AFTER: i64 = 600;
const DAY: i64 = 24 * 3600;

impl Env {
    fn tiered(&self, tier: TierConfig) -> Verifier {
        let cfg = VerifierConfig {
            retry_base: Duration::from_secs(30),
            tier,
            ..VerifierConfig::default()
        };
        Verifier::new(
            cfg,
            self.store.reader(),
            self.store.writer(),
            self.api.clone(),
        )
    }

    /// Publishes `did`'s record naming `inbox`, signed, with this `createdAt`.
    async fn put_created(&self, did: &str, inbox: &DevInbox, created_at: &str) {
        let record = RecordInput {
            cid: testkit::ids::cid(&format!("bafy{}", did.replace(':', ""))),
            inbox_id: inbox.inbox_id.clone(),
            verification_signature: inbox.sign_did(did).unwrap(),
            created_at: created_at.into(),
            malformed: None,
        };
        self.store
            .writer()
            .apply(Batch::of(vec![Change::PutRecord {
                did: testkit::ids::did(did),
                rev: None,
                record,
            }]))
            .await
            .unwrap();
    }

    fn revoke(&self, inbox: &DevInbox) {
        self.node
            .revoke_installation(&inbox.inbox_id, &inbox.installations[0].public_key())
            .unwrap();
    }

    async fn reason(&self, did: &str) -> Option<String> {
        self.status(did).await.1
    }
}

/// A `createdAt` `ago` seconds before now, in the ATProto form (stored as a time).
fn created(ago: i64) -> String {
    store::format_unix_millis((pool::unix_now() - ago) * 1000)
}

fn tier() -> TierConfig {
    TierConfig {
        reverify_active_after: Duration::from_secs(ACTIVE_AFTER as u64),
        ..TierConfig::default()
    }
}

#[tokio::test]
async fn an_active_link_is_rechecked_after_the_active_interval_and_a_dormant_one_is_not() {
    let e = env().await;
    let (fresh, old) = (e.node.create_inbox(), e.node.create_inbox());
    e.put_created("did:plc:fresh", &fresh, &created(60)).await;
    // Indexed now, but created a month ago (a backfilled record): dormant.
    e.put_created("did:plc:old", &old, &created(30 * DAY)).await;
    let mut v = e.tiered(tier());
    let now = pool::unix_now();
    assert_eq!(v.round(now).await.unwrap().verified, 2);
    e.revoke(&fresh);
    e.revoke(&old);

    // Nothing is due before the active interval.
    assert_eq!(v.round(now + ACTIVE_AFTER - 1).await.unwrap().links, 0);
    // After it, the active link only: its revocation is noticed.
    let stats = v.round(now + ACTIVE_AFTER).await.unwrap();
    assert_eq!((stats.links, stats.invalid), (1, 1));
    assert_eq!(
        e.reason("did:plc:fresh").await.as_deref(),
        Some("installation_revoked")
    );
    assert_eq!(e.status("did:plc:old").await.0, Status::Verified);
    // The dormant one waits for --reverify-after.
    assert_eq!(v.round(now + DAY - 60).await.unwrap().links, 0);
    let stats = v.round(now + DAY + 60).await.unwrap();
    assert_eq!((stats.links, stats.invalid), (1, 1));
    assert_eq!(
        e.reason("did:plc:old").await.as_deref(),
        Some("installation_revoked")
    );
}

#[tokio::test]
async fn an_active_link_stays_in_the_tier_until_the_window_passes() {
    let e = env().await;
    let inbox = e.node.create_inbox();
    e.put_created("did:plc:alice", &inbox, &created(0)).await;
    let window = 3 * ACTIVE_AFTER;
    let mut v = e.tiered(TierConfig {
        active_window: Duration::from_secs(window as u64),
        ..tier()
    });
    let now = pool::unix_now();
    v.round(now).await.unwrap();
    let mut t = now;
    let mut rechecks = 0;
    // Re-checked every interval while the record is recent, then left to the daily tier.
    for _ in 0..6 {
        t += ACTIVE_AFTER;
        rechecks += v.round(t).await.unwrap().links;
    }
    assert_eq!(
        rechecks, 4,
        "at +10, +20, +30 min (active), +40 (last, now dormant)"
    );
    assert_eq!(e.status("did:plc:alice").await.0, Status::Verified);
    assert_eq!(v.round(t + DAY).await.unwrap().links, 1, "daily re-check");
}

#[tokio::test]
async fn a_dormant_link_whose_inbox_log_moves_joins_the_active_tier() {
    let e = env().await;
    let inbox = e.node.create_inbox();
    e.put_created("did:plc:old", &inbox, &created(30 * DAY))
        .await;
    let mut v = e.tiered(tier());
    let now = pool::unix_now();
    v.round(now).await.unwrap();
    assert_eq!(
        v.round(now + ACTIVE_AFTER).await.unwrap().links,
        0,
        "dormant"
    );
    // The owner adds an installation and links a second account with it: checking that
    // new link, the verifier sees the log move and re-checks the old link too.
    let key = xmtp::InstallationKey::generate();
    e.node
        .add_installation_key(&inbox.inbox_id, key.clone())
        .unwrap();
    let mut second = inbox.clone();
    second.installations = vec![key];
    e.put_created("did:plc:second", &second, &created(0)).await;
    let moved = now + ACTIVE_AFTER + 1;
    let stats = v.round(moved).await.unwrap();
    assert_eq!(
        (stats.links, stats.rechecked_by_growth),
        (1, 1),
        "{stats:?}"
    );
    // From then on the old link is active: its revocation is noticed within the interval.
    e.revoke(&inbox);
    assert_eq!(v.round(moved + ACTIVE_AFTER - 1).await.unwrap().links, 0);
    let stats = v.round(moved + ACTIVE_AFTER).await.unwrap();
    assert_eq!((stats.links, stats.invalid), (2, 1), "{stats:?}");
    assert_eq!(
        e.reason("did:plc:old").await.as_deref(),
        Some("installation_revoked")
    );
    assert_eq!(e.status("did:plc:second").await.0, Status::Verified);
}

#[tokio::test]
async fn the_active_tier_stays_within_its_budget_and_never_delays_new_links() {
    let e = env().await;
    let mut inboxes = Vec::new();
    for i in 0..5 {
        let inbox = e.node.create_inbox();
        e.put_created(&format!("did:plc:a{i}"), &inbox, &created(0))
            .await;
        inboxes.push(inbox);
    }
    // Two inboxes a minute: one every 30 s.
    let mut v = e.tiered(TierConfig {
        active_budget_per_minute: 2,
        ..tier()
    });
    let now = pool::unix_now();
    assert_eq!(v.round(now).await.unwrap().verified, 5);
    let due = now + ACTIVE_AFTER;
    let calls = e.node.calls("GetIdentityUpdates");
    // The bucket holds one minute: two now, then nothing until it refills.
    assert_eq!(v.round(due).await.unwrap().links, 2);
    assert_eq!(v.round(due).await.unwrap().links, 0);
    assert_eq!(v.round(due + 29).await.unwrap().links, 0);
    // A new record is not held back by the spent budget.
    let new = e.node.create_inbox();
    e.put_created("did:plc:new", &new, &created(0)).await;
    let stats = v.round(due + 29).await.unwrap();
    assert_eq!((stats.links, stats.verified), (1, 1));
    assert_eq!(v.round(due + 30).await.unwrap().links, 1);
    assert_eq!(v.round(due + 90).await.unwrap().links, 2);
    assert_eq!(v.round(due + 90).await.unwrap().links, 0);
    // One request per round with work (the stand-in counts requests, ≤ 50 inboxes each).
    assert_eq!(e.node.calls("GetIdentityUpdates") - calls, 4);
}

#[tokio::test]
async fn with_the_tier_off_every_verified_link_waits_for_the_daily_recheck() {
    let e = env().await;
    let inbox = e.node.create_inbox();
    e.put_created("did:plc:alice", &inbox, &created(0)).await;
    let mut v = e.tiered(TierConfig {
        reverify_active_after: Duration::ZERO,
        ..tier()
    });
    let now = pool::unix_now();
    v.round(now).await.unwrap();
    assert_eq!(v.round(now + ACTIVE_AFTER).await.unwrap().links, 0);
    assert_eq!(v.round(now + DAY + 60).await.unwrap().links, 1);
}
