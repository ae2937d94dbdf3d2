//! `verifier::twoway::check` as a library call against the devnet: the verdict and its
//! reason for a valid link (by DID), a forged one, a DID without a record, and an XMTP API
//! that does not answer (no verdict).
#![allow(clippy::unwrap_used, missing_docs)]

use devnet::world::{Devnet, DevnetConfig};
use identity::{Resolver, ResolverConfig};
use verifier::twoway::{Outcome, Report, Sources, check};

async fn run(devnet: &Devnet, actor: &str, xmtp_endpoint: &str) -> Report {
    let info = devnet.info();
    let resolver = Resolver::new(ResolverConfig {
        plc_url: info.plc_url,
        resolve_handle_service: Some(info.handle_resolver_url),
        allow_private_network: true,
        ..ResolverConfig::default()
    })
    .unwrap();
    let fetcher = sync::HttpRecordFetcher::new("twoway-test")
        .unwrap()
        .allow_private_network(true);
    let api = xmtp::GrpcIdentityApi::new(xmtp::ClientConfig::new(xmtp_endpoint)).unwrap();
    let sources = Sources {
        resolver: &resolver,
        fetcher: &fetcher,
        api: &api,
        xmtp_endpoint,
    };
    check(actor, &sources).await
}

fn steps(r: &Report) -> Vec<(&str, bool)> {
    r.steps.iter().map(|s| (s.step, s.ok)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_two_way_check_gives_each_verdict_with_its_reason() {
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    let generated = devnet.generate(8, 7).unwrap();
    let api = devnet.info().xmtp_api_url;

    let r = run(&devnet, &generated.valid[0], &api).await;
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::Verified, None),
        "{r:?}"
    );
    assert_eq!(
        steps(&r),
        [
            ("did", true),
            ("pds", true),
            ("record", true),
            ("parse", true),
            ("xmtp", true)
        ]
    );
    assert!(r.installation_key.is_some() && r.commit.is_some() && r.record.is_some());

    let r = run(&devnet, &generated.forged[0], &api).await;
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::NotVerified, Some("signature_mismatch")),
        "{r:?}"
    );

    let r = run(&devnet, &generated.users[7].did, &api).await;
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::NotVerified, Some("no_record")),
        "{r:?}"
    );

    // A network fault is never evidence: an XMTP API that refuses connections is an error.
    let r = run(&devnet, &generated.valid[0], "http://127.0.0.1:9").await;
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::Error, Some("network")),
        "{r:?}"
    );
}
