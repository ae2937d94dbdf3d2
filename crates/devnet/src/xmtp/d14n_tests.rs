//! The d14n client (`xmtp::d14n::D14nIdentityApi`) against the d14n stand-in over real
//! gRPC on loopback: discovery, the same logs as v3, pushes, the cutover, outages.
#![allow(clippy::unwrap_used)]

use super::*;
use xmtp::api::{ApiError, IdentityApi};
use xmtp::d14n::{D14nConfig, D14nIdentityApi, decode_frame, fetch_d14n_cutover, identity_topic};
use xmtp::ratelimit::RateLimit;
use xmtp::{ClientConfig, GrpcIdentityApi};

fn cfg(url: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(url);
    cfg.max_retries = 1;
    cfg.base_backoff = Duration::from_millis(5);
    cfg.timeout = Duration::from_secs(2);
    cfg.rate_limit = RateLimit::UNLIMITED;
    cfg
}

fn d14n_client(gateway: &str) -> D14nIdentityApi {
    let mut c = D14nConfig::new(gateway);
    c.client = cfg(gateway);
    c.page_limit = 2;
    D14nIdentityApi::new(c, None).unwrap()
}

#[tokio::test]
async fn d14n_serves_the_same_logs_as_v3_through_gateway_discovery_and_paging() {
    let v3 = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let d = v3.start_d14n().await.unwrap();
    let a = v3.create_inbox();
    let b = v3.create_inbox();
    let k = v3.add_installation(&a.inbox_id).unwrap();
    v3.add_installation(&a.inbox_id).unwrap();
    v3.revoke_installation(&a.inbox_id, &k.public_key())
        .unwrap();
    let v3api = GrpcIdentityApi::new(cfg(v3.url())).unwrap();
    let dapi = d14n_client(d.gateway_url());
    let req = vec![
        (a.inbox_id.clone(), 0),
        (b.inbox_id.clone(), 0),
        ("ff".repeat(32), 0),
    ];
    let via_v3 = v3api.get_identity_updates(&req).await.unwrap();
    let via_d14n = dapi.get_identity_updates(&req).await.unwrap();
    assert_eq!(via_v3, via_d14n);
    assert_eq!(via_d14n[0].entries.len(), 4);
    // Incremental from a position, as the verifier asks.
    let after = via_v3[0].entries[1].sequence_id;
    let inc = dapi
        .get_identity_updates(&[(a.inbox_id.clone(), after)])
        .await
        .unwrap();
    assert_eq!(inc[0].entries, via_v3[0].entries[2..]);
    // 4 entries of a + 1 of b with page size 2: several pages.
    assert!(
        d.calls("QueryEnvelopes") >= 3,
        "{}",
        d.calls("QueryEnvelopes")
    );
    let ids = dapi.get_inbox_ids(&[a.wallet.address()]).await.unwrap();
    assert_eq!(ids[0].1.as_deref(), Some(a.inbox_id.as_str()));
}

#[tokio::test]
async fn a_subscription_pushes_a_revocation_of_a_watched_inbox() {
    let v3 = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let d = v3.start_d14n().await.unwrap();
    let a = v3.create_inbox();
    let other = v3.create_inbox();
    let k = v3.add_installation(&a.inbox_id).unwrap();
    let dapi = d14n_client(d.gateway_url());
    let head = dapi
        .get_identity_updates(&[(a.inbox_id.clone(), 0)])
        .await
        .unwrap()[0]
        .entries
        .last()
        .unwrap()
        .sequence_id;
    let mut stream = dapi
        .subscribe(vec![identity_topic(&a.inbox_id).unwrap()], head)
        .await
        .unwrap();
    v3.add_installation(&other.inbox_id).unwrap();
    v3.revoke_installation(&a.inbox_id, &k.public_key())
        .unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let pushed = decode_frame(&frame);
    assert_eq!(
        pushed.len(),
        1,
        "only the watched inbox, only the new entry"
    );
    assert_eq!(pushed[0].0, a.inbox_id);
    assert!(pushed[0].1 > head);
    // The node going down ends the stream with UNAVAILABLE.
    d.set_node_down(true);
    let end = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .unwrap();
    assert_eq!(end.unwrap_err().code(), tonic::Code::Unavailable);
}

#[tokio::test]
async fn after_the_cutover_new_updates_exist_only_on_d14n() {
    let v3 = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let d = v3.start_d14n().await.unwrap();
    let a = v3.create_inbox();
    let v3api = GrpcIdentityApi::new(cfg(v3.url())).unwrap();
    assert_eq!(fetch_d14n_cutover(&v3api).await.unwrap(), None);
    let cutover = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    v3.set_d14n_cutover(Some(cutover));
    assert_eq!(fetch_d14n_cutover(&v3api).await.unwrap(), Some(cutover));
    v3.add_installation(&a.inbox_id).unwrap();
    let req = [(a.inbox_id.clone(), 0)];
    assert_eq!(
        v3api.get_identity_updates(&req).await.unwrap()[0]
            .entries
            .len(),
        1
    );
    let dapi = d14n_client(d.gateway_url());
    assert_eq!(
        dapi.get_identity_updates(&req).await.unwrap()[0]
            .entries
            .len(),
        2
    );
}

#[tokio::test]
async fn a_node_outage_is_a_transport_fault_and_recovery_reads_again() {
    let v3 = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let d = v3.start_d14n().await.unwrap();
    let a = v3.create_inbox();
    let dapi = d14n_client(d.gateway_url());
    let req = [(a.inbox_id.clone(), 0)];
    d.set_node_down(true);
    let err = dapi.get_identity_updates(&req).await.unwrap_err();
    assert!(matches!(err, ApiError::Unavailable(_)), "{err:?}");
    d.set_gateway_down(true);
    let err = dapi.get_identity_updates(&req).await.unwrap_err();
    assert!(matches!(err, ApiError::Unavailable(_)), "{err:?}");
    d.set_gateway_down(false);
    d.set_node_down(false);
    assert_eq!(
        dapi.get_identity_updates(&req).await.unwrap()[0]
            .entries
            .len(),
        1
    );
}

#[tokio::test]
async fn auto_reads_v3_until_the_cutover_then_d14n_for_good() {
    use std::sync::Arc;
    use xmtp::d14n::{AutoIdentityApi, Backend};
    let v3 = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let d = v3.start_d14n().await.unwrap();
    let a = v3.create_inbox();
    let auto = AutoIdentityApi::new(
        Arc::new(GrpcIdentityApi::new(cfg(v3.url())).unwrap()),
        Arc::new(d14n_client(d.gateway_url())),
    );
    let req = [(a.inbox_id.clone(), 0)];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    auto.set_cutover(Some(now + 3_600_000_000_000));
    let before = auto.get_identity_updates(&req).await.unwrap();
    assert_eq!(auto.active(), Backend::V3);
    assert_eq!(v3.calls("GetIdentityUpdates"), 1);
    assert_eq!(d.calls("QueryEnvelopes"), 0);
    auto.set_cutover(Some(now));
    let after = auto.get_identity_updates(&req).await.unwrap();
    assert_eq!(auto.active(), Backend::D14n);
    assert_eq!(before, after, "the same log through either backend");
    assert_eq!(v3.calls("GetIdentityUpdates"), 1);
    assert_eq!(d.calls("QueryEnvelopes"), 1);
    // A cutover withdrawn later does not switch back.
    auto.set_cutover(None);
    assert_eq!(auto.active(), Backend::D14n);
}
