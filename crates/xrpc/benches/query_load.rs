//! `cargo bench -p xrpc --bench query_load`: the issue-2 load test.
//!
//! Seeds N links (default 1,000,000; `QUERY_LOAD_LINKS`) through the real `store::Writer`, all
//! verified and each with a verified handle, starts the real server (`xrpc::serve_with`, Prometheus
//! recorder installed as in production, per-client rate limit off) on its own 2-worker runtime, then drives it from a
//! separate single-threaded runtime with 50 concurrent keep-alive HTTP/1.1 connections (a
//! minimal raw-TCP client, `tests/support/http.rs`) for a fixed time per scenario
//! (`QUERY_LOAD_SECS`, default 10, after a 2 s warm-up):
//! `_health`, `resolveActor` with random existing DIDs, `resolveActors` with 100 random DIDs.
//! Prints req/s, p50/p99 latency, the resolveActor/_health ratio against the targets, and the
//! index size on disk. Client and server share the machine, so the ratio within one run is the
//! figure that counts. `QUERY_LOAD_HOLD=<s>` serves without the built-in client instead, for an
//! external one (`wrk` with `benches/resolve_actors.lua`), and reports the server's CPU time.
//! `QUERY_LOAD_REPLICA=1` also serves a copy read-only and compares `resolveActor` on it
//! with the writer's (issue 12: a replica at >= 90 % of the writer).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

#[path = "../tests/support/http.rs"]
mod http;
#[path = "../../store/benches/support/seed.rs"]
mod seed;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use seed::{cid_for, did_for, inbox_for, mix};
use store::{Batch, Change, RecordInput, Status, Store};

const CONNECTIONS: usize = 50;
const BATCH_LINKS: usize = 5_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Per table and index (SQLite's dbstat), largest first: bytes of pages, of payload (the
/// stored values and their record headers) and unused (free space in pages); empty where
/// unavailable. Pages minus payload minus unused is SQLite's per-cell and per-page overhead.
fn table_sizes(path: &std::path::Path) -> Vec<(String, u64, u64, u64)> {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare(
        "SELECT name, SUM(pgsize), SUM(payload), SUM(unused) FROM dbstat
         GROUP BY name ORDER BY 2 DESC",
    ) else {
        return Vec::new();
    };
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get::<_, i64>(1)? as u64,
            r.get::<_, i64>(2)? as u64,
            r.get::<_, i64>(3)? as u64,
        ))
    })
    .map(|rows| rows.filter_map(Result::ok).collect())
    .unwrap_or_default()
}

async fn seed(store: &Store, dids: &[String]) {
    let writer = store.writer();
    for (chunk_idx, chunk) in dids.chunks(BATCH_LINKS).enumerate() {
        let mut changes = Vec::with_capacity(chunk.len() * 3);
        for (k, did) in chunk.iter().enumerate() {
            let n = (chunk_idx * BATCH_LINKS + k) as u64;
            let cid = syntax::Cid::parse(&cid_for(n)).unwrap();
            let did = syntax::Did::parse(did).unwrap();
            changes.push(Change::PutRecord {
                did: did.clone(),
                rev: None,
                record: RecordInput {
                    cid: cid.clone(),
                    inbox_id: inbox_for(n),
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
                installation_key: Some(format!("{:064x}", mix(n) as u128)),
            });
            changes.push(Change::Handle {
                did,
                handle: Some(syntax::Handle::parse(&format!("u{n}.bench.example.com")).unwrap()),
            });
        }
        writer.apply(Batch::of(changes)).await.unwrap();
    }
}

struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let idx = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[idx]) / 1000.0
    }
}

/// Runs `CONNECTIONS` keep-alive connections against `addr` for `secs`, each picking its
/// next target with `target(rng_state)`.
async fn drive(
    addr: SocketAddr,
    secs: f64,
    target: Arc<dyn Fn(&mut u64) -> String + Send + Sync>,
) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = http::Conn::connect(addr).await.unwrap();
            let mut rng = mix(c as u64 + 1);
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let t = target(&mut rng);
                let sent = Instant::now();
                let status = conn.get_status(&t).await.unwrap();
                lat.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                if status != 200 {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        latencies_us.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Outcome {
        requests: latencies_us.len(),
        errors,
        elapsed,
        latencies_us,
    }
}

/// CPU time used by this whole process (server and client), from /proc; 0 where unavailable.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn main() {
    let n_links = env_usize("QUERY_LOAD_LINKS", 1_000_000);
    let secs = env_usize("QUERY_LOAD_SECS", 10) as f64;
    let dir = tempfile::tempdir().unwrap();
    // `QUERY_LOAD_DB=<dir>` keeps the seeded index there and reuses it on the next run
    // (seeding a million links takes a minute or two); by default a temp dir is used.
    let keep = std::env::var("QUERY_LOAD_DB")
        .ok()
        .map(std::path::PathBuf::from);
    let db_dir = keep.clone().unwrap_or_else(|| dir.path().to_owned());
    std::fs::create_dir_all(&db_dir).unwrap();
    let db_path = db_dir.join("index.sqlite");
    let reuse = keep.is_some() && db_path.exists();

    // The server: its own runtime with 2 workers, like the 2-core target machine.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Store::open(&db_path).unwrap();

    let mut dids: Vec<String> = (0..n_links as u64).map(did_for).collect();
    dids.sort_unstable();
    dids.dedup();
    if reuse {
        let counts = server_rt.block_on(store.reader().counts()).unwrap();
        assert_eq!(
            counts.verified as usize,
            dids.len(),
            "{} holds another seed",
            db_path.display()
        );
        println!(
            "reusing {} seeded links at {}",
            dids.len(),
            db_path.display()
        );
    } else {
        let t = Instant::now();
        server_rt.block_on(seed(&store, &dids));
        let seed_secs = t.elapsed().as_secs_f64();
        println!(
            "seeded {} links (verified, with handles) through store::Writer in {seed_secs:.1} s ({:.0} links/s)",
            dids.len(),
            dids.len() as f64 / seed_secs
        );
    }

    let _metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    xrpc::describe_metrics();
    let state = xrpc::AppState::new(store.reader(), "bench");
    let (addr, stop_tx, server) = start_server(&server_rt, state);

    // The load generator: one thread, like `wrk -t1`.
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dids = Arc::new(dids);
    // Appends a random existing DID to the request target (no per-pick allocation: the load
    // generator shares the two cores with the server it measures).
    let pick = {
        let dids = dids.clone();
        move |rng: &mut u64, out: &mut String| {
            *rng = mix(*rng);
            out.push_str(&dids[(*rng % dids.len() as u64) as usize]);
        }
    };
    let health: Arc<dyn Fn(&mut u64) -> String + Send + Sync> =
        Arc::new(|_: &mut u64| "/xrpc/_health".to_owned());
    let one = {
        let pick = pick.clone();
        Arc::new(move |rng: &mut u64| {
            let mut q = String::with_capacity(96);
            q.push_str("/xrpc/org.xmtp.identity.resolveActor?actor=");
            pick(rng, &mut q);
            q
        }) as Arc<dyn Fn(&mut u64) -> String + Send + Sync>
    };
    let hundred = {
        let pick = pick.clone();
        Arc::new(move |rng: &mut u64| {
            let mut q = String::with_capacity(100 * 48 + 48);
            q.push_str("/xrpc/org.xmtp.identity.resolveActors?");
            for i in 0..100 {
                if i > 0 {
                    q.push('&');
                }
                q.push_str("actors=");
                pick(rng, &mut q);
            }
            q
        }) as Arc<dyn Fn(&mut u64) -> String + Send + Sync>
    };

    // Sanity: a resolveActor answer is a verified link view.
    client_rt.block_on(async {
        let mut c = http::Conn::connect(addr).await.unwrap();
        let r = c
            .get(&format!(
                "/xrpc/org.xmtp.identity.resolveActor?actor={}",
                dids[0]
            ))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["status"], "verified");
    });

    // `QUERY_LOAD_HOLD=<s>`: no built-in load generator; write the DIDs to `<db dir>/dids.txt`,
    // serve for that long and report the server's CPU time, for an external client such as
    // `wrk -t1 -c50 --latency -s crates/xrpc/benches/resolve_actors.lua <url> -- <dids.txt>`.
    if let Some(hold) = std::env::var("QUERY_LOAD_HOLD")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
    {
        let list = db_dir.join("dids.txt");
        let mut text = String::with_capacity(dids.len() * 33);
        for did in dids.iter() {
            text.push_str(did);
            text.push('\n');
        }
        std::fs::write(&list, text).unwrap();
        println!(
            "serving http://{addr} for {hold} s; DIDs in {}",
            list.display()
        );
        let cpu_before = process_cpu_secs();
        std::thread::sleep(Duration::from_secs_f64(hold));
        println!(
            "server CPU over the hold: {:.2} s",
            process_cpu_secs() - cpu_before
        );
        let _ = stop_tx.send(());
        server_rt.block_on(server).unwrap().unwrap();
        return;
    }

    // `QUERY_LOAD_WARMUP=<s>` (default 2) before each measured run.
    let warmup = env_usize("QUERY_LOAD_WARMUP", 2) as f64;
    // `QUERY_LOAD_ONLY=<substring>` runs only the matching scenarios (for profiling).
    let only = std::env::var("QUERY_LOAD_ONLY").unwrap_or_default();
    let mut results = Vec::new();
    for (name, target) in [
        ("_health", health),
        ("resolveActor (random DID)", one.clone()),
        ("resolveActors (100 DIDs)", hundred),
    ] {
        if !name.contains(only.as_str()) {
            continue;
        }
        client_rt.block_on(drive(addr, warmup, target.clone()));
        let cpu_before = process_cpu_secs();
        let o = client_rt.block_on(drive(addr, secs, target));
        let cpu_us = (process_cpu_secs() - cpu_before) * 1e6 / o.requests.max(1) as f64;
        println!(
            "{name:28} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests, {} errors, {:.1} s, {cpu_us:.0} us CPU/request incl. client)",
            o.rate(),
            o.pct(0.50),
            o.pct(0.99),
            o.requests,
            o.errors,
            o.elapsed.as_secs_f64()
        );
        assert_eq!(o.errors, 0, "{name}: non-200 answers");
        results.push(o);
    }
    if results.len() < 3 {
        let _ = stop_tx.send(());
        return;
    }
    let ratio = results[1].rate() / results[0].rate();
    println!(
        "resolveActor / _health = {:.0}% (target >= 70%, issue 11): {}",
        ratio * 100.0,
        if ratio >= 0.7 { "met" } else { "NOT met" }
    );
    println!(
        "resolveActor p99 {:.2} ms (target < 5 ms): {}",
        results[1].pct(0.99),
        if results[1].pct(0.99) < 5.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "resolveActors(100) p99 {:.2} ms (target < 10 ms): {}",
        results[2].pct(0.99),
        if results[2].pct(0.99) < 10.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    let mib = |p: &std::path::Path| {
        std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
    };
    println!(
        "index on disk: {:.1} MiB for {} links (database file {:.1} MiB + WAL {:.1} MiB)",
        dir_size(&db_dir) as f64 / (1024.0 * 1024.0),
        dids.len(),
        mib(&db_path),
        mib(&db_dir.join("index.sqlite-wal")),
    );
    println!(
        "bytes per link: {:.0} on disk, {:.0} in the database file",
        dir_size(&db_dir) as f64 / dids.len() as f64,
        std::fs::metadata(&db_path).map_or(0, |m| m.len()) as f64 / dids.len() as f64
    );
    let per_link = |b: u64| b as f64 / dids.len() as f64;
    for (name, bytes, payload, unused) in table_sizes(&db_path) {
        println!(
            "  {name}: {:.1} MiB, {:.0} B per link (payload {:.0}, unused {:.0}, overhead {:.0})",
            bytes as f64 / (1024.0 * 1024.0),
            per_link(bytes),
            per_link(payload),
            per_link(unused),
            per_link(bytes.saturating_sub(payload + unused)),
        );
    }
    // `QUERY_LOAD_REPLICA=1`: the issue-12 read replica. A copy of the index (file + WAL, as a
    // restored Litestream replica is a plain file) served read-only (`Reader::open_read_only`
    // and `AppState::with_read_only`, as `serve --read-only` does) by a second server on the
    // same runtime; `resolveActor` is driven against the writer's server and the replica's in
    // alternating rounds, so both see the same machine.
    if std::env::var("QUERY_LOAD_REPLICA").is_ok_and(|v| v == "1") {
        replica_round(&server_rt, &client_rt, addr, &db_dir, secs, warmup, &one);
    }
    let _ = stop_tx.send(());
    server_rt.block_on(server).unwrap().unwrap();
}

/// The real server over `state` on `rt`, on a loopback port: its address, its stop switch
/// and its task. One client address sends everything: no per-client rate limit here.
fn start_server(
    rt: &tokio::runtime::Runtime,
    state: xrpc::AppState,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(xrpc::serve_with(
        listener,
        xrpc::router(state),
        xrpc::ServerConfig::unlimited(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    (addr, stop_tx, server)
}

/// Serves a copy of the index read-only and compares its `resolveActor` rate with the
/// writer's, in alternating rounds.
fn replica_round(
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
    writer_addr: SocketAddr,
    db_dir: &std::path::Path,
    secs: f64,
    warmup: f64,
    one: &Arc<dyn Fn(&mut u64) -> String + Send + Sync>,
) {
    let copy = tempfile::tempdir_in(db_dir.parent().unwrap_or(db_dir)).unwrap();
    for name in ["index.sqlite", "index.sqlite-wal"] {
        let from = db_dir.join(name);
        if from.exists() {
            std::fs::copy(&from, copy.path().join(name)).unwrap();
        }
    }
    let reader = store::Reader::open_read_only(&copy.path().join("index.sqlite")).unwrap();
    let state = xrpc::AppState::new(reader, "bench-replica").with_read_only();
    let (replica_addr, stop_tx, server) = start_server(server_rt, state);
    let mut rates = [Vec::new(), Vec::new()];
    for round in 0..4 {
        let (which, addr) = if round % 2 == 0 {
            (0, writer_addr)
        } else {
            (1, replica_addr)
        };
        client_rt.block_on(drive(addr, warmup, one.clone()));
        let cpu_before = process_cpu_secs();
        let o = client_rt.block_on(drive(addr, secs, one.clone()));
        let cpu_us = (process_cpu_secs() - cpu_before) * 1e6 / o.requests.max(1) as f64;
        let name = ["writer", "replica"][which];
        assert_eq!(o.errors, 0, "resolveActor on the {name}: non-200 answers");
        println!(
            "resolveActor on the {name:7} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  \
             ({cpu_us:.0} us CPU/request incl. client)",
            o.rate(),
            o.pct(0.50),
            o.pct(0.99)
        );
        rates[which].push(o.rate());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratio = mean(&rates[1]) / mean(&rates[0]);
    println!(
        "replica / writer resolveActor = {:.0}% (target >= 90%): {}",
        ratio * 100.0,
        if ratio >= 0.9 { "met" } else { "NOT met" }
    );
    let _ = stop_tx.send(());
    server_rt.block_on(server).unwrap().unwrap();
}
