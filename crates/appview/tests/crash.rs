//! The crash guarantee, tested on the real binary: after `kill -9` the next start resumes
//! from the cursor saved with the changes it caused, and the index ends up equal to that of
//! an AppView that never crashed.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use devnet::world::{Devnet, DevnetConfig};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed and reaped when dropped, even if the test panics.
struct Proc(Child);

impl Proc {
    fn kill(&mut self) {
        drop(self.0.kill());
        drop(self.0.wait());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_appview(devnet: &Devnet, db: &Path, port: u16) -> Proc {
    let info = devnet.info();
    let child = Command::new(env!("CARGO_BIN_EXE_xmtp-appview"))
        .args(["run", "--relay", &info.relay_url, "--plc", &info.plc_url])
        .args(["--xmtp-api", &info.xmtp_api_url])
        .args(["--handle-resolver", &info.handle_resolver_url])
        .args([
            "--discovery",
            &info.discovery_url,
            "--allow-private-network",
        ])
        .args([
            "--reverify-after",
            "1h",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(db.with_extension("log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .unwrap();
    Proc(child)
}

/// Every link of the index, without the timestamps that legitimately differ between two
/// AppViews (when each indexed or verified a link).
async fn all_links(http: &reqwest::Client, port: u16) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!(
            "http://127.0.0.1:{port}/xrpc/org.xmtp.identity.listLinks?status=all&limit=1000"
        );
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let body: Value = http.get(url).send().await.ok()?.json().await.ok()?;
        for mut link in body["links"].as_array()?.iter().cloned() {
            let obj = link.as_object_mut()?;
            obj.remove("indexedAt");
            obj.remove("verifiedAt");
            out.push(link);
        }
        match body["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Some(out),
        }
    }
}

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

async fn settled(http: &reqwest::Client, port: u16, expected_links: usize) -> Option<Vec<Value>> {
    let links = all_links(http, port).await?;
    let done = links.len() == expected_links && links.iter().all(|l| l["status"] != "pending");
    done.then_some(links)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_index_equals_one_that_never_crashed() {
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (crash_port, steady_port) = (free_port(), free_port());
    let crash_db = dir.path().join("crash.sqlite");
    let mut crashing = spawn_appview(&devnet, &crash_db, crash_port);
    let mut steady = spawn_appview(&devnet, &dir.path().join("steady.sqlite"), steady_port);

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
            crashing = spawn_appview(&devnet, &crash_db, crash_port);
        }
    }

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (a, b) = loop {
        let a = settled(&http, crash_port, links).await;
        let b = settled(&http, steady_port, links).await;
        if let (Some(a), Some(b)) = (&a, &b)
            && a == b
        {
            break (a.clone(), b.clone());
        }
        if tokio::time::Instant::now() >= deadline {
            let log = std::fs::read_to_string(crash_db.with_extension("log")).unwrap_or_default();
            eprintln!("crashed AppView's log:\n{log}");
            eprintln!("crashed links: {:?}", all_links(&http, crash_port).await);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "indexes never converged: crashed {:?} vs steady {:?}",
            a.map(|l| l.len()),
            b.map(|l| l.len())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(a.len(), links);
    assert_eq!(a, b);
    assert_eq!(a.iter().filter(|l| l["status"] == "invalid").count(), 6);

    crashing.kill();
    steady.kill();
}
