//! A mirror (`run --upstream`) killed with SIGKILL, again and again while its upstream
//! changes, resumes from what it saved and ends with the same links as its upstream: every
//! hint was written with the upstream position in one transaction, so none is lost.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use devnet::world::{Devnet, DevnetConfig};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
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

fn spawn_appview(devnet: &Devnet, db: &Path, port: u16, upstream: Option<u16>) -> Proc {
    let info = devnet.info();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xmtp-appview"));
    cmd.args(["run", "--relay", &info.relay_url, "--plc", &info.plc_url])
        .args(["--xmtp-api", &info.xmtp_api_url])
        .args(["--handle-resolver", &info.handle_resolver_url])
        .args(["--discovery", &info.discovery_url])
        .args(["--allow-private-network", "--reverify-after", "1h"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--db")
        .arg(db);
    if let Some(up) = upstream {
        cmd.args(["--upstream", &format!("http://127.0.0.1:{up}")]);
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(db.with_extension("log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    Proc(
        cmd.env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Every link, without the times that legitimately differ between two AppViews.
async fn all_links(http: &reqwest::Client, port: u16) -> Option<Vec<Value>> {
    let url =
        format!("http://127.0.0.1:{port}/xrpc/org.xmtp.identity.listLinks?status=all&limit=1000");
    let body: Value = http.get(url).send().await.ok()?.json().await.ok()?;
    let mut out = Vec::new();
    for mut link in body["links"].as_array()?.iter().cloned() {
        let obj = link.as_object_mut()?;
        obj.remove("indexedAt");
        obj.remove("verifiedAt");
        out.push(link);
    }
    Some(out)
}

async fn settled(http: &reqwest::Client, port: u16, expected: usize) -> Option<Vec<Value>> {
    let links = all_links(http, port).await?;
    let done = links.len() == expected && links.iter().all(|l| l["status"] != "pending");
    done.then_some(links)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_killed_with_sigkill_resumes_and_ends_equal_to_its_upstream() {
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (up_port, m_port) = (free_port(), free_port());
    let _upstream = spawn_appview(&devnet, &dir.path().join("up.sqlite"), up_port, None);
    let m_db = dir.path().join("mirror.sqlite");
    let mut mirror = spawn_appview(&devnet, &m_db, m_port, Some(up_port));

    let mut links = 0;
    for (round, pause_ms) in [150u64, 600, 350, 900].into_iter().enumerate() {
        for i in 0..3 {
            let user = devnet.create_user(&format!("r{round}u{i}")).unwrap();
            if i == 0 {
                devnet.forge_link(&user.did).unwrap();
            } else {
                devnet.link_inbox(&user.did).unwrap();
            }
            links += 1;
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        mirror.kill();
        mirror = spawn_appview(&devnet, &m_db, m_port, Some(up_port));
    }

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (a, b) = loop {
        let a = settled(&http, up_port, links).await;
        let b = settled(&http, m_port, links).await;
        if let (Some(a), Some(b)) = (&a, &b)
            && a == b
        {
            break (a.clone(), b.clone());
        }
        if tokio::time::Instant::now() >= deadline {
            let log = std::fs::read_to_string(m_db.with_extension("log")).unwrap_or_default();
            eprintln!("mirror log:\n{log}");
            panic!("the mirror never matched its upstream:\nupstream {a:?}\nmirror {b:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(a, b);
    assert_eq!(b.iter().filter(|l| l["status"] == "invalid").count(), 4);
    assert_eq!(b.iter().filter(|l| l["status"] == "verified").count(), 8);
    assert!(b.iter().all(|l| l["handle"].is_string()), "{b:?}");
    mirror.kill();
}
