//! A new record → its `verified` answer, with network latency on every upstream.

use std::time::{Duration, Instant};

use appview::cli::XmtpBackend;
use appview::cmd::run::{RunConfig, start_with};
use appview::config::HttpOptions;
use devnet::StandInConfig;
use devnet::atmosphere::HttpFaults;
use devnet::world::{Devnet, DevnetConfig};
use tokio_util::sync::CancellationToken;

use crate::{env, pct_ms, say};

pub async fn run() -> anyhow::Result<()> {
    let latency = Duration::from_millis(env("LATENCY_MS", 50));
    let samples: usize = env("LATENCY_SAMPLES", 100);
    let traffic_every = Duration::from_millis(env("LATENCY_TRAFFIC_MS", 5));
    let devnet = Devnet::start(DevnetConfig {
        xmtp: StandInConfig { latency },
        ..DevnetConfig::default()
    })
    .await?;
    let faults = HttpFaults {
        latency: Some(latency),
        ..HttpFaults::default()
    };
    devnet.pds().set_faults(faults.clone());
    devnet.plc().set_faults(faults);
    {
        let d = devnet.clone();
        tokio::task::spawn_blocking(move || d.generate(200, 50)).await??;
    }
    let dir = tempfile::tempdir()?;
    let info = devnet.info();
    let cfg = RunConfig {
        db: dir.path().join("index.sqlite"),
        db_cache_mib: store::StoreOptions::DEFAULT_CACHE_MIB,
        listen: "127.0.0.1:0".parse()?,
        relay: info.relay_url,
        discovery: vec![info.discovery_url],
        plc: info.plc_url,
        xmtp_api: info.xmtp_api_url,
        handle_resolver: Some(info.handle_resolver_url),
        service_did: None,
        reverify_after: Duration::from_secs(24 * 3600),
        reverify_tier: verifier::tier::TierConfig::default(),
        verify_all_commits: false,
        allow_private_network: true,
        xmtp_backend: XmtpBackend::V3,
        xmtp_gateway: None,
        upstream: None,
        upstream_grace: Duration::from_secs(300),
        subscribe_retention: Duration::from_secs(72 * 3600),
        subscribe_kept_frames: 16_384,
        identity_cache_entries: 100_000,
    };
    // The poller asks every 5 ms from one address: the rate limit is off for this bench.
    let http_opts = HttpOptions {
        server: xrpc::ServerConfig::unlimited(),
        ..HttpOptions::default()
    };
    let shutdown = CancellationToken::new();
    let running = start_with(cfg, http_opts, None, shutdown.clone()).await?;
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let settle = Instant::now();
    while !running.live.is_connected() && settle.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let traffic = devnet.start_live_traffic(traffic_every);
    // Let the live traffic and the initial verifications settle.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut times = Vec::with_capacity(samples);
    let mut missed = 0;
    for i in 0..samples {
        let d = devnet.clone();
        let user =
            tokio::task::spawn_blocking(move || d.create_user(&format!("fresh{i:05}"))).await??;
        // The account exists (and its DID resolves) before its record is written, as in life.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let (d, did) = (devnet.clone(), user.did.clone());
        tokio::task::spawn_blocking(move || d.link_inbox(&did)).await??;
        let url = format!(
            "{base}/xrpc/org.xmtp.identity.resolveActor?actor={}",
            user.did
        );
        loop {
            let res = http.get(&url).send().await?;
            if res.status() == 200 {
                times.push(started.elapsed());
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                missed += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    drop(traffic);
    times.sort_unstable();
    say(&format!(
        "fresh: new record -> verified, {} samples ({missed} not verified within 30 s), {} ms on XMTP API, PDS and PLC, live traffic every {} ms: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (min {:.0} ms)",
        times.len(),
        latency.as_millis(),
        traffic_every.as_millis(),
        pct_ms(&times, 0.5),
        pct_ms(&times, 0.9),
        pct_ms(&times, 0.99),
        pct_ms(&times, 1.0),
        pct_ms(&times, 0.0),
    ));
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), running.wait(shutdown)).await;
    Ok(())
}
