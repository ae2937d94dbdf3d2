//! Verifier pool throughput through the devnet XMTP stand-in answering after 50 ms:
//! (1) new links verified per second (target ≥ 2,000/s); (2) re-check of verified links
//! with no log changes, extrapolated to 1,000,000 links (target < 10 minutes), with the
//! request count and the time the published per-IP read limit alone would impose.
//!
//! Run: `cargo bench -p verifier --bench pool` (`BENCH_LINKS=50000` for a bigger run).
//! The full 1M run is not done here (building 1M signed inboxes and a 1M-row index takes
//! long on this machine); the re-check is linear in links, so we extrapolate and say so.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use devnet::xmtp::{StandInConfig, XmtpStandIn};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Batch, Change, RecordInput, Store, now_secs as unix_now};
use verifier::{Verifier, VerifierConfig};
use xmtp::ratelimit::RateLimit;
use xmtp::{ClientConfig, GrpcIdentityApi};

async fn drain(v: &mut Verifier, now: i64) -> (usize, usize) {
    let (mut links, mut verified) = (0, 0);
    loop {
        let s = v.round(now).await.unwrap();
        if s.links == 0 {
            return (links, verified);
        }
        links += s.links;
        verified += s.verified;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_LINKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let t = Instant::now();
    let inboxes: Vec<_> = (0..n).map(|_| node.create_inbox()).collect();
    println!("setup: {n} libxmtp-signed inboxes in {:.1?}", t.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.sqlite")).unwrap();
    let t = Instant::now();
    for (c, chunk) in inboxes.chunks(5000).enumerate() {
        let changes = chunk
            .iter()
            .enumerate()
            .map(|(i, inbox)| {
                let did = format!("did:plc:bench{:08}", c * 5000 + i);
                let sig = inbox.sign_did(&did).unwrap();
                Change::PutRecord {
                    did: syntax::Did::parse(&did).unwrap(),
                    rev: None,
                    record: RecordInput {
                        cid: syntax::Cid::parse(&format!("bafybench{}", c * 5000 + i)).unwrap(),
                        inbox_id: inbox.inbox_id.clone(),
                        verification_signature: sig,
                        created_at: "2026-01-01T00:00:00Z".into(),
                        malformed: None,
                    },
                }
            })
            .collect();
        store.writer().apply(Batch::of(changes)).await.unwrap();
    }
    println!(
        "setup: {n} pending links in the index in {:.1?}",
        t.elapsed()
    );

    node.set_latency(Duration::from_millis(50));
    let mut ccfg = ClientConfig::new(node.url());
    ccfg.concurrency = 32;
    ccfg.rate_limit = RateLimit::XMTP_READS;
    let api = Arc::new(GrpcIdentityApi::new(ccfg).unwrap());
    let cfg = VerifierConfig {
        concurrency: 32,
        batch_size: 5000,
        ..VerifierConfig::default()
    };
    let mut v = Verifier::new(cfg, store.reader(), store.writer(), api.clone());

    let calls0 = node.calls("GetIdentityUpdates");
    let t = Instant::now();
    let (links, verified) = drain(&mut v, unix_now()).await;
    let el = t.elapsed();
    let calls1 = node.calls("GetIdentityUpdates");
    assert_eq!((links, verified), (n, n));
    println!(
        "new links: {n} verified in {el:.2?} = {:.0} links/s ({} GetIdentityUpdates, stand-in latency 50 ms)",
        n as f64 / el.as_secs_f64(),
        calls1 - calls0
    );

    // Re-check everything verified before `start` (the store stamps verified_at with its
    // own clock, so a re-checked link leaves the window and the drain ends).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let start = unix_now();
    let cfg = VerifierConfig {
        reverify_after: Duration::ZERO,
        concurrency: 32,
        batch_size: 5000,
        ..VerifierConfig::default()
    };
    let mut v = Verifier::new(cfg, store.reader(), store.writer(), api.clone());
    let t = Instant::now();
    let (links, verified) = drain(&mut v, start).await;
    let el = t.elapsed();
    let calls2 = node.calls("GetIdentityUpdates");
    assert_eq!((links, verified), (n, n));
    let reqs = calls2 - calls1;
    let per_million = 1_000_000.0 / n as f64;
    let extrapolated = el.as_secs_f64() * per_million;
    let reqs_1m = reqs as f64 * per_million;
    // Published per-IP read limit: 20,000-token bucket, 4,000/min refill, 1 token/request.
    let limit_floor_full_bucket = ((reqs_1m - 20_000.0).max(0.0) / 4_000.0) * 60.0;
    let limit_floor_empty_bucket = reqs_1m / 4_000.0 * 60.0;
    println!(
        "re-check (no log changes): {n} links in {el:.2?} = {:.0} links/s, {reqs} requests ({:.1} links/request)",
        n as f64 / el.as_secs_f64(),
        n as f64 / reqs as f64
    );
    println!(
        "extrapolated to 1,000,000 links: {:.0} s ({:.1} min) of work, {:.0} requests; rate-limit floor {:.0} s from a full bucket, {:.0} s from an empty one",
        extrapolated,
        extrapolated / 60.0,
        reqs_1m,
        limit_floor_full_bucket,
        limit_floor_empty_bucket
    );
    println!(
        "client token bucket left: {:.0} of 20000",
        api.bucket().available()
    );
}
