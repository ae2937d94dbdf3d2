//! The tonic client (`xmtp::GrpcIdentityApi`) against the stand-in over real gRPC on
//! loopback: logs, incremental fetches, chunking, controls and every fault mode.
#![allow(clippy::unwrap_used)]

use super::*;
use xmtp::api::{ApiError, IdentityApi};
use xmtp::ratelimit::RateLimit;
use xmtp::{ClientConfig, GrpcIdentityApi};

fn client(url: &str) -> GrpcIdentityApi {
    let mut cfg = ClientConfig::new(url);
    cfg.max_retries = 1;
    cfg.base_backoff = Duration::from_millis(5);
    cfg.timeout = Duration::from_secs(2);
    cfg.rate_limit = RateLimit::UNLIMITED;
    GrpcIdentityApi::new(cfg).unwrap()
}

fn replay(entries: &[xmtp::LogEntry]) -> xmtp::InboxState {
    let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.update.clone()).collect();
    xmtp::replay::replay_bytes(None, &raw, &Default::default()).unwrap()
}

#[tokio::test]
async fn created_inbox_replays_to_its_installation_and_its_did_signature_verifies() {
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let inbox = node.create_inbox();
    let api = client(node.url());
    let logs = api
        .get_identity_updates(&[(inbox.inbox_id.clone(), 0)])
        .await
        .unwrap();
    assert_eq!(logs.len(), 1);
    let state = replay(&logs[0].entries);
    assert_eq!(state.inbox_id, inbox.inbox_id);
    let keys: Vec<_> = state.installations().into_iter().map(|i| i.key).collect();
    assert_eq!(keys, vec![inbox.installations[0].public_key().to_vec()]);
    let sig = node.sign_did(&inbox.inbox_id, "did:plc:abc").unwrap();
    assert!(xmtp::verify_did_signature("did:plc:abc", &sig, &keys[0]));
}

#[tokio::test]
async fn incremental_fetch_returns_only_new_entries_and_revocation_removes_the_key() {
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let inbox = node.create_inbox();
    let api = client(node.url());
    let first = api
        .get_identity_updates(&[(inbox.inbox_id.clone(), 0)])
        .await
        .unwrap()
        .remove(0);
    let last = first.entries.last().unwrap().sequence_id;
    let none = api
        .get_identity_updates(&[(inbox.inbox_id.clone(), last)])
        .await
        .unwrap()
        .remove(0);
    assert!(none.entries.is_empty());
    let second = node.add_installation(&inbox.inbox_id).unwrap();
    node.revoke_installation(&inbox.inbox_id, &inbox.installations[0].public_key())
        .unwrap();
    let new = api
        .get_identity_updates(&[(inbox.inbox_id.clone(), last)])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(new.entries.len(), 2);
    let state = replay(&first.entries);
    let raw: Vec<Vec<u8>> = new.entries.iter().map(|e| e.update.clone()).collect();
    let state = xmtp::replay::replay_bytes(Some(state), &raw, &Default::default()).unwrap();
    let keys: Vec<_> = state.installations().into_iter().map(|i| i.key).collect();
    assert_eq!(keys, vec![second.public_key().to_vec()]);
}

#[tokio::test]
async fn requests_are_chunked_by_fifty_and_unknown_inboxes_come_back_empty() {
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let inbox = node.create_inbox();
    let mut reqs: Vec<(String, u64)> = (0..119).map(|i| (format!("{i:064x}"), 0)).collect();
    reqs.push((inbox.inbox_id.clone(), 0));
    let logs = client(node.url())
        .get_identity_updates(&reqs)
        .await
        .unwrap();
    assert_eq!(logs.len(), 120);
    assert_eq!(node.calls("GetIdentityUpdates"), 3);
    assert!(logs[..119].iter().all(|l| l.entries.is_empty()));
    assert_eq!(logs[119].inbox_id, inbox.inbox_id);
    assert_eq!(logs[119].entries.len(), 1);
}

#[tokio::test]
async fn faults_are_transport_errors_and_recovery_works() {
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let inbox = node.create_inbox();
    let api = client(node.url());
    let req = [(inbox.inbox_id.clone(), 0)];
    node.set_mode(FaultMode::Down);
    assert!(matches!(
        api.get_identity_updates(&req).await,
        Err(ApiError::Unavailable(_))
    ));
    assert_eq!(node.calls("GetIdentityUpdates"), 2, "one retry");
    node.set_mode(FaultMode::Garbage);
    assert!(matches!(
        api.get_identity_updates(&req).await,
        Err(ApiError::Malformed(_))
    ));
    node.set_mode(FaultMode::Normal);
    assert_eq!(
        api.get_identity_updates(&req).await.unwrap()[0]
            .entries
            .len(),
        1
    );
}

#[tokio::test]
async fn resource_exhausted_drains_the_client_bucket() {
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let mut cfg = ClientConfig::new(node.url());
    cfg.max_retries = 0;
    cfg.rate_limit = RateLimit {
        burst: 100.0,
        per_minute: 6.0,
    };
    let api = GrpcIdentityApi::new(cfg).unwrap();
    node.set_mode(FaultMode::RateLimited);
    let err = api
        .get_identity_updates(&[("00".repeat(32), 0)])
        .await
        .unwrap_err();
    assert_eq!(err, ApiError::RateLimited);
    assert!(
        api.bucket().available() > 50.0,
        "no retry: bucket not drained yet"
    );
}

#[tokio::test]
async fn slow_stand_in_hits_the_client_timeout() {
    let node = XmtpStandIn::start(StandInConfig {
        latency: Duration::from_millis(400),
    })
    .await
    .unwrap();
    let mut cfg = ClientConfig::new(node.url());
    cfg.max_retries = 0;
    cfg.timeout = Duration::from_millis(100);
    let api = GrpcIdentityApi::new(cfg).unwrap();
    let err = api
        .get_identity_updates(&[("00".repeat(32), 0)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Timeout | ApiError::Unavailable(_)),
        "{err:?}"
    );
    node.set_latency(Duration::ZERO);
}

#[tokio::test]
async fn publish_validates_updates_like_the_real_node() {
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let inbox = node.create_inbox();
    let api = client(node.url());
    // A stranger's wallet may not add an installation to this inbox.
    let stranger = testkit::xmtp::Wallet::generate();
    let bad = testkit::xmtp::add_installation(
        &inbox.inbox_id,
        &stranger,
        &xmtp::InstallationKey::generate(),
        1,
    );
    assert!(matches!(
        api.publish_identity_update(bad).await,
        Err(ApiError::Status { .. })
    ));
    let good = testkit::xmtp::add_installation(
        &inbox.inbox_id,
        &inbox.wallet,
        &xmtp::InstallationKey::generate(),
        2,
    );
    api.publish_identity_update(good).await.unwrap();
    let ids = api.get_inbox_ids(&[inbox.wallet.address()]).await.unwrap();
    assert_eq!(ids[0].1.as_deref(), Some(inbox.inbox_id.as_str()));
}

#[tokio::test]
async fn a_stopped_node_is_an_unavailable_transport_error() {
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let url = node.url().to_string();
    node.shutdown().await;
    let err = client(&url)
        .get_identity_updates(&[("00".repeat(32), 0)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Unavailable(_) | ApiError::Timeout),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

/// The simulated chain vouches for a registered contract's owner signature; with the
/// chain-RPC fault, the node answers an `error` (not a verdict), as a real node does.
#[tokio::test]
async fn smart_contract_wallet_checks_answer_from_the_chain_or_with_an_error() {
    use xmtp::signature::ScwVerdict;
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let (inbox, scw) = node.create_scw_inbox();
    let api = client(node.url());
    let log = api
        .get_identity_updates(&[(inbox.inbox_id.clone(), 0)])
        .await
        .unwrap()
        .remove(0);
    let decoded: Vec<_> = log
        .entries
        .iter()
        .map(|e| xmtp::model::DecodedUpdate::from_bytes(&e.update).unwrap())
        .collect();
    let requests = xmtp::replay::scw_requests(&decoded);
    assert_eq!(
        requests.len(),
        2,
        "create and add are both signed by the contract"
    );
    let mut forged = requests[0].clone();
    forged.signature = testkit::xmtp::Wallet::generate().sign_hash(&forged.hash);
    let mut asked = requests.clone();
    asked.push(forged);
    let verdicts = api
        .verify_smart_contract_wallet_signatures(&asked)
        .await
        .unwrap();
    assert_eq!(
        verdicts,
        vec![ScwVerdict::Valid, ScwVerdict::Valid, ScwVerdict::Invalid]
    );
    let answers = requests.iter().cloned().zip(verdicts).collect();
    let state = xmtp::replay::replay(None, &decoded, &answers).unwrap();
    assert_eq!(state.recovery, xmtp::model::MemberId::Ethereum(scw.address));

    node.set_mode(FaultMode::ScwError);
    let verdicts = api
        .verify_smart_contract_wallet_signatures(&requests)
        .await
        .unwrap();
    assert!(
        verdicts
            .iter()
            .all(|v| matches!(v, ScwVerdict::Error(e) if e.contains("chain RPC"))),
        "{verdicts:?}"
    );
    // Other calls still work in that mode.
    assert!(
        api.get_identity_updates(&[(inbox.inbox_id.clone(), 0)])
            .await
            .is_ok()
    );
}
