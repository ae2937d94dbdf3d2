//! The crash guarantee, tested on the real binary: after `kill -9` the next start resumes
//! from the cursor saved with the changes it caused, and the index ends up equal to that of
//! an AppView that never crashed.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{converged, free_port, spawn_appview};
use devnet::world::{Devnet, DevnetConfig};
use serde_json::Value;

/// How long each wait may take: seconds on a quiet machine; at load 16-20 (three helpers
/// building beside a soak) the restarted AppView still had 12 links pending, never yet
/// judged, 20 s after the last event.
const PATIENCE: Duration = Duration::from_secs(60);

async fn wait_for_cursor(http: &reqwest::Client, port: u16) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let url = format!("http://127.0.0.1:{port}/xrpc/org.xmtp.identity.getStatus");
    loop {
        if let Ok(res) = http.get(&url).send().await
            && let Ok(body) = res.json::<Value>().await
            && body["firehose"]["cursor"].is_i64()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no cursor was ever committed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_index_equals_one_that_never_crashed() {
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (crash_port, steady_port) = (free_port(), free_port());
    let crash_db = dir.path().join("crash.sqlite");
    let mut crashing = spawn_appview(&devnet, &crash_db, crash_port, None);
    let steady_db = dir.path().join("steady.sqlite");
    let mut steady = spawn_appview(&devnet, &steady_db, steady_port, None);

    // Both AppViews must be following the relay before the first event we count on.
    for port in [crash_port, steady_port] {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let url = format!("http://127.0.0.1:{port}/xrpc/org.xmtp.identity.getStatus");
            if let Ok(res) = http.get(&url).send().await
                && let Ok(body) = res.json::<Value>().await
                && body["firehose"]["connected"] == true
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "AppView on {port} never connected"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let mut links = 0;
    for round in 0..3 {
        for i in 0..8 {
            let user = devnet.create_user(&format!("r{round}u{i}")).unwrap();
            match i % 4 {
                0 => devnet.forge_link(&user.did).map(drop).unwrap(),
                _ => devnet.link_inbox(&user.did).map(drop).unwrap(),
            }
            links += 1;
            devnet.emit_noise(20).unwrap();
        }
        if round == 0 {
            // Wait for a first committed cursor (an index with none would need a backfill
            // on restart, which is another test's business), then crash mid-stream.
            wait_for_cursor(&http, crash_port).await;
            for i in 0..4 {
                let user = devnet.create_user(&format!("midu{i}")).unwrap();
                devnet.link_inbox(&user.did).unwrap();
                links += 1;
                devnet.emit_noise(20).unwrap();
            }
            crashing.kill();
        }
        if round == 1 {
            crashing = spawn_appview(&devnet, &crash_db, crash_port, None);
        }
    }

    let a = converged(
        &http,
        [steady_port, crash_port],
        links,
        PATIENCE,
        &[&steady_db, &crash_db],
    )
    .await;
    assert_eq!(a.len(), links);
    assert_eq!(a.iter().filter(|l| l["status"] == "invalid").count(), 6);

    crashing.kill();
    steady.kill();
}
