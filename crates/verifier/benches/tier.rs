//! The v3 re-check tiers' own cost: (1) an idle round's probe of the active tier (nothing
//! due), which runs every idle interval (100 ms); (2) one active-tier pass over N recently
//! active links against (3) the same re-check with the tier off, whose difference is the
//! cost of deciding and writing each link's tier (`last_activity` + one `RetryLater`).
//!
//! Run: `cargo bench -p verifier --bench tier` (`BENCH_LINKS=N`, default 20,000). The XMTP
//! stand-in answers at once and the client is not rate limited: the figures are the
//! AppView's CPU (process user + system time, which includes the in-process stand-in), not
//! the network's. Wall time is printed too but is unreliable on a loaded machine.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use devnet::xmtp::{StandInConfig, XmtpStandIn};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Batch, Change, RecordInput, Store, format_unix_millis, now_secs as unix_now};
use verifier::tier::TierConfig;
use verifier::{Verifier, VerifierConfig};
use xmtp::ratelimit::RateLimit;
use xmtp::{ClientConfig, GrpcIdentityApi};

/// Process CPU time (user + system) from /proc/self/stat, in seconds (10 ms ticks).
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

async fn drain(v: &mut Verifier, now: i64) -> usize {
    let mut links = 0;
    loop {
        let s = v.round(now).await.unwrap();
        if s.links == 0 {
            return links;
        }
        links += s.links;
    }
}

fn verifier(store: &Store, api: &Arc<GrpcIdentityApi>, tier: TierConfig) -> Verifier {
    let cfg = VerifierConfig {
        concurrency: 32,
        batch_size: 5000,
        tier,
        ..VerifierConfig::default()
    };
    Verifier::new(cfg, store.reader(), store.writer(), api.clone())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_LINKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let node = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let inboxes: Vec<_> = (0..n).map(|_| node.create_inbox()).collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.sqlite")).unwrap();
    let created = format_unix_millis(unix_now() * 1000);
    for (c, chunk) in inboxes.chunks(5000).enumerate() {
        let changes = chunk
            .iter()
            .enumerate()
            .map(|(i, inbox)| {
                let did = format!("did:plc:bench{:08}", c * 5000 + i);
                Change::PutRecord {
                    record: RecordInput {
                        cid: syntax::Cid::parse(&format!("bafybench{}", c * 5000 + i)).unwrap(),
                        inbox_id: inbox.inbox_id.clone(),
                        verification_signature: inbox.sign_did(&did).unwrap(),
                        created_at: created.clone(),
                        malformed: None,
                    },
                    did: syntax::Did::parse(&did).unwrap(),
                    rev: None,
                }
            })
            .collect();
        store.writer().apply(Batch::of(changes)).await.unwrap();
    }
    let mut ccfg = ClientConfig::new(node.url());
    ccfg.concurrency = 32;
    ccfg.rate_limit = RateLimit::UNLIMITED;
    let api = Arc::new(GrpcIdentityApi::new(ccfg).unwrap());
    let tier = TierConfig {
        active_budget_per_minute: u64::MAX / 2,
        ..TierConfig::default()
    };
    let now = unix_now();
    let mut v = verifier(&store, &api, tier);
    assert_eq!(drain(&mut v, now).await, n);
    println!("setup: {n} recently created links verified and scheduled in the active tier");

    // (1) Idle rounds: pending probe + active-tier probe + dormant probe, nothing due.
    let rounds = 5_000;
    let (c0, t) = (cpu(), Instant::now());
    for _ in 0..rounds {
        assert_eq!(v.round(now + 1).await.unwrap().links, 0);
    }
    let (c, el) = (cpu() - c0, t.elapsed());
    println!(
        "idle round with {n} links scheduled: {:.1} µs CPU/round ({rounds} rounds, {:.1} µs wall/round)",
        c * 1e6 / rounds as f64,
        el.as_secs_f64() * 1e6 / rounds as f64
    );

    // (2) The active pass at now + 10 min: every link due, re-checked and scheduled again.
    let calls0 = node.calls("GetIdentityUpdates");
    let (c0, t) = (cpu(), Instant::now());
    let links = drain(&mut v, now + 600).await;
    let (c_active, el) = (cpu() - c0, t.elapsed());
    assert_eq!(links, n);
    let reqs = node.calls("GetIdentityUpdates") - calls0;
    println!(
        "active pass: {n} links in {el:.2?} wall, {:.2} s CPU = {:.0} µs CPU/link, {reqs} requests",
        c_active,
        c_active * 1e6 / n as f64
    );

    // (3) The same re-check with the tier off (dormant path), a day later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let off = TierConfig {
        reverify_active_after: Duration::ZERO,
        ..tier
    };
    let mut v = verifier(&store, &api, off);
    let calls0 = node.calls("GetIdentityUpdates");
    let (c0, t) = (cpu(), Instant::now());
    let links = drain(&mut v, unix_now() + 24 * 3600).await;
    let (c_dormant, el) = (cpu() - c0, t.elapsed());
    assert_eq!(links, n);
    let reqs = node.calls("GetIdentityUpdates") - calls0;
    println!(
        "same re-check, tier off: {n} links in {el:.2?} wall, {:.2} s CPU = {:.0} µs CPU/link, {reqs} requests",
        c_dormant,
        c_dormant * 1e6 / n as f64
    );
    println!(
        "tier bookkeeping: {:+.0} µs CPU/link ({:+.0}%)",
        (c_active - c_dormant) * 1e6 / n as f64,
        (c_active / c_dormant - 1.0) * 100.0
    );
}
