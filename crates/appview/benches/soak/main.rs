//! The soak: the real AppView against the devnet under sustained hostile and polite load.
//!
//! ```text
//! SOAK_SECS=1800 cargo bench -p appview --bench soak
//! ```
//!
//! The bench starts a devnet (PLC, PDS, relay, XMTP stand-in) with `SOAK_USERS` accounts and
//! `SOAK_LINKS` inbox links, then the AppView in a child process (the bench re-executes
//! itself; `appview::cmd::run::start_with`, the `run` command's own start-up) over a fresh
//! index, so that the RSS sampled is the AppView's alone. Once the initial links are
//! verified, for `SOAK_SECS` seconds it runs, at once:
//! - the firehose: devnet commits at `SOAK_EVENTS_PER_SEC` (2,000) — filler creates and
//!   deletes, plus a new linked account every 400 events;
//! - polite clients: `SOAK_QPS` (500) requests/s over resolveActor, resolveActors,
//!   resolveInbox, listLinks and getStatus, from 10 loopback addresses, each under the
//!   per-IP limit `SOAK_RATE_LIMIT` (100/s, the default of `--rate-limit`);
//! - a flood client from another address at `SOAK_FLOOD_RPS` (2,000) requests/s;
//! - `SOAK_LORIS` (20) slow-loris connections dribbling a header line every 5 s.
//!
//! The AppView's memory bounds are its defaults unless `SOAK_DB_CACHE_MIB`
//! (`--db-cache-mib`), `SOAK_KEPT_FRAMES` (`--subscribe-kept-frames`) or
//! `SOAK_IDENTITY_CACHE` (`--identity-cache-entries`) say otherwise.
//!
//! It samples the AppView's VmRSS every `SOAK_SAMPLE_SECS` (5) and reports RSS start, peak,
//! end and slope, polite OK vs errors (must be 0 errors), flood answers (beyond the
//! limiter's budget, every one must be 429), slow-loris connections closed by the
//! header-read timeout, the ingest rate achieved and the index counts. It exits non-zero
//! when a polite request failed, a flood request got anything but 200 within budget or 429,
//! or no slow-loris connection was closed.

#![allow(missing_docs)] // bench-internal items

mod child;
mod load;
mod loris;
mod report;
mod rss;
mod traffic;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use devnet::world::{Devnet, DevnetConfig};
use serde_json::Value;

/// The settings, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub secs: u64,
    pub events_per_sec: u32,
    pub qps: u32,
    pub rate_limit: u32,
    pub flood_rps: u32,
    pub loris: usize,
    pub users: usize,
    pub links: usize,
    pub sample_secs: u64,
    pub gen_threads: usize,
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .ok()
            .with_context(|| format!("{name}={v:?} is not valid")),
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        Ok(Settings {
            secs: env("SOAK_SECS", 1800)?,
            events_per_sec: env("SOAK_EVENTS_PER_SEC", 2000)?,
            qps: env("SOAK_QPS", 500)?,
            rate_limit: env("SOAK_RATE_LIMIT", 100)?,
            flood_rps: env("SOAK_FLOOD_RPS", 2000)?,
            loris: env("SOAK_LORIS", 20)?,
            users: env("SOAK_USERS", 1000)?,
            links: env("SOAK_LINKS", 300)?,
            sample_secs: env("SOAK_SAMPLE_SECS", 5)?,
            gen_threads: env("SOAK_GEN_THREADS", 2)?,
        })
    }
}

/// Polite clients (each from its own address).
const POLITE_CLIENTS: u32 = 10;

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    if std::env::var_os(child::CHILD_ENV).is_some() {
        return rt.block_on(child::run_child());
    }
    rt.block_on(soak())
}

async fn get_status(http: &reqwest::Client, base: &str) -> anyhow::Result<Value> {
    let res = http
        .get(format!("{base}/xrpc/org.xmtp.identity.getStatus"))
        .send()
        .await?;
    anyhow::ensure!(res.status() == 200, "getStatus answered {}", res.status());
    Ok(res.json().await?)
}

async fn soak() -> anyhow::Result<()> {
    let s = Settings::from_env()?;
    let per_client = s.qps / POLITE_CLIENTS;
    anyhow::ensure!(
        per_client < s.rate_limit || s.rate_limit == 0,
        "polite clients at {per_client}/s would not be under the rate limit {}",
        s.rate_limit
    );
    eprintln!("soak: {s:?}");
    let devnet = Devnet::start(DevnetConfig::default()).await?;
    let world = {
        let d = devnet.clone();
        let (users, links) = (s.users, s.links);
        tokio::task::spawn_blocking(move || d.generate(users, links)).await??
    };
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("index.sqlite");
    let app = child::Child::spawn(&devnet.info(), &db, s.rate_limit).await?;
    let base = format!("http://{}", app.addr);
    // getStatus polls come from their own address, one a second at most.
    let status_http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()?;

    let settle = Instant::now();
    loop {
        let st = get_status(&status_http, &base).await?;
        if st["counts"]["verified"].as_u64().unwrap_or(0) >= world.valid.len() as u64 {
            break;
        }
        anyhow::ensure!(
            settle.elapsed() < Duration::from_secs(300),
            "the initial links were not verified within 300 s: {st}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!(
        "soak: {} initial links verified {:.1} s after start",
        world.valid.len(),
        settle.elapsed().as_secs_f64()
    );
    let handles: std::collections::HashMap<String, String> = world
        .users
        .iter()
        .map(|u| (u.did.clone(), u.handle.clone()))
        .collect();
    let targets: Vec<load::Target> = world
        .valid
        .iter()
        .filter_map(|did| {
            Some(load::Target {
                did: did.clone(),
                handle: handles.get(did)?.clone(),
                inbox: devnet.linked_inbox(did)?,
            })
        })
        .collect();
    anyhow::ensure!(!targets.is_empty(), "no verified links to query");

    let before = get_status(&status_http, &base).await?;
    let cpu_before = report::cpu_secs(app.pid);
    let load_before = report::loadavg();
    let stop = Arc::new(AtomicBool::new(false));
    let mut rss = rss::Series::new();
    rss.sample(app.pid);
    let users: Vec<String> = world.users.iter().map(|u| u.did.clone()).collect();
    let generator = traffic::Generator::start(&devnet, &users, s.events_per_sec, s.gen_threads);
    let (polite, polite_tasks) = load::start_polite(
        app.addr,
        POLITE_CLIENTS as usize,
        per_client,
        Arc::new(targets),
        stop.clone(),
    );
    let (flood, flood_task) = load::start_flood(app.addr, s.flood_rps, stop.clone());
    let (loris, loris_tasks) =
        loris::start(app.addr, s.loris, Duration::from_secs(5), stop.clone());

    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut loads = vec![load_before];
    while started.elapsed() < Duration::from_secs(s.secs) {
        tokio::time::sleep(Duration::from_secs(s.sample_secs)).await;
        let kib = rss.sample(app.pid).context("the AppView process is gone")?;
        if last_progress.elapsed() >= Duration::from_secs(60) {
            last_progress = Instant::now();
            loads.push(report::loadavg());
            let st = get_status(&status_http, &base).await.unwrap_or_default();
            eprintln!(
                "soak: {:>5.0} s  rss {:.1} MiB (anon {:.1}, {} threads, {} sockets)  frames {}  lag {}  events {}  polite ok {} err {}  flood 429 {}  loris closed {}  load {}",
                started.elapsed().as_secs_f64(),
                kib as f64 / 1024.0,
                rss::status_kib(app.pid, "RssAnon").unwrap_or(0) as f64 / 1024.0,
                rss::status_kib(app.pid, "Threads").unwrap_or(0),
                rss::sockets(app.pid),
                st["firehose"]["frames"],
                st["firehose"]["lagSeconds"],
                generator.counters.events.load(Ordering::Relaxed),
                polite.ok.load(Ordering::Relaxed),
                polite.errors.load(Ordering::Relaxed),
                flood.limited.load(Ordering::Relaxed),
                loris.closed.load(Ordering::Relaxed),
                loads.last().map_or("", String::as_str),
            );
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let counters = generator.counters.clone();
    tokio::task::spawn_blocking(move || generator.stop()).await?;
    let during = get_status(&status_http, &base).await?;
    let cpu_after = report::cpu_secs(app.pid);
    loads.push(report::loadavg());
    for task in polite_tasks
        .into_iter()
        .chain(loris_tasks)
        .chain([flood_task])
    {
        let _ = task.await;
    }
    // Let in-flight requests finish, then see how long the index takes to catch up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let head = devnet.relay().current_seq();
    let catch_up = Instant::now();
    let after = loop {
        let st = get_status(&status_http, &base).await?;
        if st["firehose"]["cursor"].as_i64().unwrap_or(0) >= head
            || catch_up.elapsed() > Duration::from_secs(120)
        {
            break st;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let caught_up = catch_up.elapsed().as_secs_f64();
    let exit = app.stop().await;

    let r = report::Report {
        settings: s,
        elapsed,
        rss,
        polite,
        flood,
        loris,
        events: counters,
        before,
        during,
        after,
        head,
        caught_up,
        cpu: cpu_after.zip(cpu_before).map(|(a, b)| a - b),
        loads,
        exit: format!("{exit:?}"),
    };
    let ok = r.print();
    anyhow::ensure!(ok, "the soak failed its checks (see above)");
    Ok(())
}
