//! A restart over a large index: spawn of the `run` binary → serving.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devnet::world::{Devnet, DevnetConfig};
use store::{Batch, Change, RecordInput, Status, Store};

use crate::{env, say};

const BATCH: usize = 10_000;

#[path = "../../../store/benches/support/seed.rs"]
mod ids;
use ids::{did_for, inbox_for, mix};

async fn seed(db: &Path, links: u64) -> anyhow::Result<f64> {
    let store = Store::open(db)?;
    let writer = store.writer();
    let started = Instant::now();
    let mut n = 0;
    while n < links {
        let end = (n + BATCH as u64).min(links);
        let mut changes = Vec::with_capacity(BATCH * 3);
        for i in n..end {
            let did = syntax::Did::parse(&did_for(i))?;
            let cid = syntax::Cid::parse(&format!("bafyreib{:051x}", u128::from(mix(i)) * 7))?;
            changes.push(Change::PutRecord {
                did: did.clone(),
                rev: None,
                record: RecordInput {
                    cid: cid.clone(),
                    inbox_id: inbox_for(i),
                    verification_signature: "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEg==".into(),
                    created_at: "2026-06-01T12:00:00.000Z".into(),
                    malformed: None,
                },
            });
            changes.push(Change::Verdict {
                did: did.clone(),
                record_cid: cid,
                status: Status::Verified,
                reason: None,
                installation_key: Some(format!("{:064x}", u128::from(mix(i)))),
            });
            changes.push(Change::Handle {
                did,
                handle: Some(syntax::Handle::parse(&format!("u{i}.bench.example.com"))?),
            });
        }
        writer.apply(Batch::of(changes)).await?;
        n = end;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Spawns `run` over `db`; returns (to `_health`, to a `resolveActor` answer).
async fn restart_once(
    devnet: &Devnet,
    db: &Path,
    probe: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let info = devnet.info();
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_xmtp-appview"))
        .args(["run", "--db"])
        .arg(db)
        .args(["--listen", &listen, "--relay", &info.relay_url])
        .args(["--plc", &info.plc_url, "--xmtp-api", &info.xmtp_api_url])
        .args(["--handle-resolver", &info.handle_resolver_url])
        .args([
            "--discovery",
            &info.discovery_url,
            "--allow-private-network",
        ])
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()?;
    let http = reqwest::Client::new();
    let base = format!("http://{listen}/xrpc");
    let mut health = None;
    let mut query = None;
    while query.is_none() && started.elapsed() < Duration::from_secs(120) {
        if health.is_none() {
            if let Ok(res) = http.get(format!("{base}/_health")).send().await
                && res.status() == 200
            {
                health = Some(started.elapsed());
            }
        } else if let Ok(res) = http
            .get(format!(
                "{base}/org.xmtp.identity.resolveActor?actor={probe}"
            ))
            .send()
            .await
            && res.status() == 200
        {
            query = Some(started.elapsed());
        }
        if query.is_none() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // A clean stop: SIGTERM would be kinder, but a kill is what a crash-restart sees too,
    // and the next start must cope with it.
    child.kill().await?;
    match (health, query) {
        (Some(h), Some(q)) => Ok((h, q)),
        _ => anyhow::bail!("the AppView did not serve within 120 s"),
    }
}

pub async fn run() -> anyhow::Result<()> {
    let links: u64 = env("RESTART_LINKS", 1_000_000);
    let runs: usize = env("RESTART_RUNS", 3);
    let tmp = tempfile::tempdir()?;
    let dir: PathBuf =
        std::env::var_os("RESTART_DB").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("restart-{links}.sqlite"));
    if db.exists() {
        say(&format!("restart: reusing {}", db.display()));
    } else {
        let secs = seed(&db, links).await?;
        say(&format!(
            "restart: seeded {links} verified links through store::Writer in {secs:.1} s ({:.0} links/s)",
            links as f64 / secs
        ));
    }
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    let devnet = Devnet::start(DevnetConfig::default()).await?;
    let probe = did_for(links / 2);
    for i in 0..runs {
        let (health, query) = restart_once(&devnet, &db, &probe).await?;
        say(&format!(
            "restart {}: {links} links ({:.0} MiB): spawn -> _health {:.0} ms, -> resolveActor answer {:.0} ms",
            i + 1,
            size as f64 / (1 << 20) as f64,
            health.as_secs_f64() * 1000.0,
            query.as_secs_f64() * 1000.0
        ));
    }
    Ok(())
}
