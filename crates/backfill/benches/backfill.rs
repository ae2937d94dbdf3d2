//! Backfill throughput: `BENCH_REPOS` repos (default 100,000) on one devnet PDS that answers
//! every request after `BENCH_LATENCY_MS` (default 20 ms), discovered through the relay's
//! `listReposByCollection`, each record fetched with `sync.getRecord`, proof-checked (CAR,
//! signature, MST path) and written to SQLite with its progress. Target: ≥ 2,000 repos/s,
//! i.e. ≥ 40 requests in flight to the one PDS host.
//!
//! Identity: by default from memory (`StaticIdentity`: DID → key, PDS, handle), as a warm
//! resolver cache would give. `BENCH_IDENTITY=resolver` uses the production
//! `identity::Resolver` against the devnet PLC directory instead (one PLC fetch per DID, and
//! the handle verified both ways through `resolveHandle` on the PDS, so two PDS requests per
//! DID behind the latency).
//!
//! Run: `cargo bench -p backfill --bench backfill`; knobs: `BENCH_REPOS`, `BENCH_LATENCY_MS`,
//! `BENCH_CONCURRENCY` (default 256), `BENCH_PER_HOST` (default 128).
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use backfill::{BackfillConfig, BackfillDeps, Progress, run_backfill};
use devnet::atmosphere::{HttpFaults, PdsConfig, RelayConfig};
use devnet::world::{Devnet, DevnetConfig};
use sync::{IdentitySource, StaticAccount, StaticIdentity};
use tokio_util::sync::CancellationToken;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_or("BENCH_REPOS", 100_000);
    let latency = env_or("BENCH_LATENCY_MS", 20) as u64;
    let concurrency = env_or("BENCH_CONCURRENCY", 256);
    let per_host = env_or("BENCH_PER_HOST", 128);

    let devnet = Devnet::start(DevnetConfig {
        relay: RelayConfig {
            window: 1_000,
            send_buffer: 1_024,
        },
        pds: PdsConfig {
            key_seed: Some(7),
            ..PdsConfig::default()
        },
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    let identity = Arc::new(StaticIdentity::new());
    let pds_url = devnet.info().pds_url;
    let t = Instant::now();
    for i in 0..n {
        let user = devnet.create_user(&format!("b{i:07}")).unwrap();
        // A record shaped like the real one; the backfill does not ask XMTP.
        devnet
            .update_record(
                &user.did,
                "org.xmtp.inbox",
                "self",
                serde_json::json!({
                    "$type": "org.xmtp.inbox",
                    "id": format!("{i:064x}"),
                    "verificationSignature": "c2lnbmF0dXJl",
                    "createdAt": "2026-01-01T00:00:00.000Z",
                }),
            )
            .unwrap();
        let key = devnet.pds().account_info(&user.did).unwrap().signing_key;
        identity.insert(
            user.did.clone(),
            StaticAccount {
                key: repo::PublicKey::from_multibase(&key).unwrap(),
                pds: pds_url.clone(),
                handle: Some(user.handle),
            },
        );
    }
    println!(
        "setup: {n} repos with an org.xmtp.inbox record in {:.1?}",
        t.elapsed()
    );

    devnet.pds().set_faults(HttpFaults {
        latency: Some(Duration::from_millis(latency)),
        ..HttpFaults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let store = store::Store::open(&dir.path().join("bench.sqlite")).unwrap();
    let cfg = BackfillConfig {
        discovery: vec![devnet.info().discovery_url],
        concurrency,
        per_host_concurrency: per_host,
        allow_private_network: true,
        ..BackfillConfig::default()
    };
    let progress = Arc::new(Progress::new());
    let use_resolver = std::env::var("BENCH_IDENTITY").as_deref() == Ok("resolver");
    let ident: Arc<dyn IdentitySource> = if use_resolver {
        let info = devnet.info();
        Arc::new(
            identity::Resolver::new(identity::ResolverConfig {
                plc_url: info.plc_url,
                resolve_handle_service: Some(info.handle_resolver_url),
                allow_private_network: true,
                ..identity::ResolverConfig::default()
            })
            .unwrap(),
        )
    } else {
        identity.clone()
    };
    let deps = BackfillDeps {
        writer: store.writer(),
        reader: store.reader(),
        identity: ident.clone(),
        handles: Some(ident),
        fetcher: None,
        progress: progress.clone(),
    };
    let t = Instant::now();
    let report = run_backfill(cfg, deps, CancellationToken::new())
        .await
        .unwrap();
    let el = t.elapsed();
    println!("{report}");
    println!(
        "backfill: {} repos in {:.2?} = {:.0} repos/s (PDS latency {latency} ms, concurrency {concurrency}, per host {per_host}, identity {}; target >= 2000/s)",
        report.indexed + report.absent + report.failed,
        el,
        (report.indexed + report.absent + report.failed) as f64 / el.as_secs_f64(),
        if use_resolver { "resolver" } else { "memory" }
    );
    assert_eq!(report.indexed as usize, n, "every record indexed");
    assert_eq!(store.reader().counts().await.unwrap().pending as usize, n);
}
