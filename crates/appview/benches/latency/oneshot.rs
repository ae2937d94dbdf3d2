//! `xmtp-appview verify <handle>`: the binary's wall time, with and without network latency.

use std::time::{Duration, Instant};

use devnet::atmosphere::HttpFaults;
use devnet::world::{Devnet, DevnetConfig};

use crate::{env, pct_ms, say};

async fn once(devnet: &Devnet, handle: &str) -> anyhow::Result<Duration> {
    let info = devnet.info();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_xmtp-appview"));
    cmd.args(["verify", handle, "--json", "--plc", &info.plc_url])
        .args(["--xmtp-api", &info.xmtp_api_url])
        .args(["--handle-resolver", &info.handle_resolver_url])
        .arg("--allow-private-network")
        .env("RUST_LOG", "warn");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
    let took = started.elapsed();
    anyhow::ensure!(
        out.status.code() == Some(0),
        "verify {handle} did not verify: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(took)
}

fn set_latency(devnet: &Devnet, latency: Duration) {
    let faults = HttpFaults {
        latency: (!latency.is_zero()).then_some(latency),
        ..HttpFaults::default()
    };
    devnet.pds().set_faults(faults.clone());
    devnet.plc().set_faults(faults);
    devnet.xmtp().set_latency(latency);
}

pub async fn run() -> anyhow::Result<()> {
    let runs: usize = env("ONESHOT_RUNS", 10);
    let devnet = Devnet::start(DevnetConfig::default()).await?;
    let world = {
        let d = devnet.clone();
        tokio::task::spawn_blocking(move || d.generate(20, 10)).await??
    };
    let handles: Vec<String> = world
        .valid
        .iter()
        .filter_map(|did| world.users.iter().find(|u| &u.did == did))
        .map(|u| u.handle.clone())
        .collect();
    anyhow::ensure!(!handles.is_empty(), "no valid link to verify");
    let mut medians = Vec::new();
    for latency_ms in [0u64, 50] {
        set_latency(&devnet, Duration::from_millis(latency_ms));
        let mut times = Vec::with_capacity(runs);
        for i in 0..runs {
            times.push(once(&devnet, &handles[i % handles.len()]).await?);
        }
        times.sort_unstable();
        let median = pct_ms(&times, 0.5);
        medians.push(median);
        say(&format!(
            "oneshot: verify <handle> --json (binary, spawn to exit), {latency_ms} ms per answer, {runs} runs: min {:.0} ms, median {median:.0} ms, max {:.0} ms",
            pct_ms(&times, 0.0),
            pct_ms(&times, 1.0),
        ));
    }
    if let [zero, fifty] = medians[..] {
        say(&format!(
            "oneshot: +{:.0} ms from 50 ms per answer = {:.1} sequential round trips; local cost {zero:.0} ms",
            fifty - zero,
            (fifty - zero) / 50.0
        ));
    }
    Ok(())
}
