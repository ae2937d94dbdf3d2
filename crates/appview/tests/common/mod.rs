//! What the tests that run the real binary share: free ports, a child process killed with
//! SIGKILL and reaped when dropped, an AppView started against the devnet, and the index
//! read back over XRPC. Each test binary uses a part of it.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use devnet::world::Devnet;
use serde_json::Value;

/// A loopback port nobody listens on (at the time of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed (SIGKILL) and reaped when dropped, even if the test
/// panics.
pub struct Proc(pub Child);

impl Proc {
    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        drop(self.0.kill());
        drop(self.0.wait());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `xmtp-appview run` against `devnet`, serving on `port`, indexing into `db` (its log in
/// `db` with the extension `log`); a mirror of the AppView on `upstream` when given.
pub fn spawn_appview(devnet: &Devnet, db: &Path, port: u16, upstream: Option<u16>) -> Proc {
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
        // The verifier's per-link decisions are debug lines: a test that never converges
        // prints this log, and a link left pending must say why.
        cmd.env("RUST_LOG", "info,verifier=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Every link of the index, without the timestamps that legitimately differ between two
/// AppViews (when each indexed or verified a link).
pub async fn all_links(http: &reqwest::Client, port: u16) -> Option<Vec<Value>> {
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

/// The links, once there are `expected` and none is pending.
pub async fn settled(http: &reqwest::Client, port: u16, expected: usize) -> Option<Vec<Value>> {
    let links = all_links(http, port).await?;
    let done = links.len() == expected && links.iter().all(|l| l["status"] != "pending");
    done.then_some(links)
}

/// The links of the AppView on `ports[1]` once they equal those on `ports[0]`, number
/// `expected` and none is pending. After `patience`, prints the logs of `watched` (the
/// AppViews' db paths) and panics with both indexes.
pub async fn converged(
    http: &reqwest::Client,
    ports: [u16; 2],
    expected: usize,
    patience: Duration,
    watched: &[&Path],
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let a = settled(http, ports[0], expected).await;
        let b = settled(http, ports[1], expected).await;
        if let (Some(a), Some(b)) = (&a, &b)
            && a == b
        {
            return b.clone();
        }
        if tokio::time::Instant::now() >= deadline {
            for db in watched {
                let log = std::fs::read_to_string(db.with_extension("log")).unwrap_or_default();
                eprintln!("log of {}:\n{log}", db.display());
            }
            let a = all_links(http, ports[0]).await;
            let b = all_links(http, ports[1]).await;
            panic!(
                "never converged:\non {} {a:?}\non {} {b:?}",
                ports[0], ports[1]
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
