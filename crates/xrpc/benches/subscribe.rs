//! `cargo bench -p xrpc --bench subscribe`: the issue-12 `subscribeLinks` fan-out.
//!
//! Starts the real server (`xrpc::serve_with`, feed woken by the writer) on its own 2-worker
//! runtime over a temporary index, then, from a separate single-threaded client runtime:
//! 1. baseline: N link changes (`SUBSCRIBE_CHANGES`, default 200,000) committed through the
//!    real `store::Writer` (outbox rows included) with no subscriber;
//! 2. live: 50 WebSocket subscribers (`SUBSCRIBERS`) connected without a cursor while N more
//!    changes are committed; timed from the first commit until every subscriber has decoded
//!    the last event (each checks that seqs arrive one by one, none lost or repeated);
//! 3. replay: 50 subscribers with `cursor=0` read all 2N retained events.
//!
//! `SUBSCRIBE_RATE=<changes/s>` paces the live writes (does every subscriber keep up?).
//! Prints changes/s for each: the live figure is changes delivered to *all* subscribers per
//! second (each subscriber receives every change).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::IgnoredAny;
use store::{Batch, Change, RecordInput, Store};
use tokio_tungstenite::tungstenite::Message;
use xrpc::{AppState, LinkFeed, LinkFeedConfig, ServerConfig};

const BATCH: usize = 1_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn put(n: usize) -> Change {
    Change::PutRecord {
        did: syntax::Did::parse(&format!("did:plc:{n:024}")).unwrap(),
        rev: None,
        record: RecordInput {
            cid: syntax::Cid::parse(&format!("bafyreib{n:051}")).unwrap(),
            inbox_id: format!("{n:064x}"),
            verification_signature: "MEUCIQDx3Jk0b2Xv9M4p9rN0mO6gkq8Y2V0pW1bX8e0n2aYb8QIgYt6v1J+Vt2hXfD1y7G2pQm7w9Xb3r5z2h0s4k6n8m1Q=".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            malformed: None,
        },
    }
}

/// Commits changes `from..from + n` in batches of `BATCH`, a few in flight at once; with a
/// `rate` (changes/s), batch `k` is not started before `k × BATCH / rate` seconds.
async fn write(store: &Store, from: usize, n: usize, rate: Option<f64>) {
    let mut pending = Vec::new();
    let t0 = tokio::time::Instant::now();
    for start in (from..from + n).step_by(BATCH) {
        if let Some(rate) = rate {
            let due = Duration::from_secs_f64((start - from) as f64 / rate);
            tokio::time::sleep_until(t0 + due).await;
        }
        let changes = (start..(start + BATCH).min(from + n)).map(put).collect();
        let writer = store.writer();
        pending.push(tokio::spawn(async move {
            writer.apply(Batch::of(changes)).await.unwrap();
        }));
        if pending.len() >= 4 {
            pending.remove(0).await.unwrap();
        }
    }
    for p in pending {
        p.await.unwrap();
    }
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`.
fn cpu_secs() -> f64 {
    stat_cpu_secs("/proc/self/stat")
}

/// CPU seconds of the main thread, which runs the subscribers' runtime (`block_on`): the
/// rest of the process is the server (its workers, the writer thread, the blocking pool).
fn client_cpu_secs() -> f64 {
    stat_cpu_secs(&format!("/proc/self/task/{}/stat", std::process::id()))
}

/// User + system CPU seconds from a `/proc/.../stat` line.
fn stat_cpu_secs(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the name).
    (ticks(11) + ticks(12)) / 100.0
}

#[derive(Deserialize)]
struct Body {
    seq: i64,
}

/// Reads `#link` frames until seq `until`; checks they come one by one after `after` (live:
/// after the first one received, at most `after + 1`).
async fn subscriber(addr: SocketAddr, cursor: Option<i64>, after: i64, until: i64) -> usize {
    let query = cursor.map(|c| format!("?cursor={c}")).unwrap_or_default();
    let url = format!("ws://{addr}/xrpc/org.xmtp.identity.subscribeLinks{query}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut last = after;
    let mut frames = 0;
    while last < until {
        let Message::Binary(bytes) = ws.next().await.unwrap().unwrap() else {
            continue;
        };
        let mut values = serde_ipld_dagcbor::de::Deserializer::from_slice(&bytes);
        let _header = IgnoredAny::deserialize(&mut values).unwrap();
        let body = Body::deserialize(&mut values).unwrap();
        if cursor.is_none() && frames == 0 {
            // Live from "now": the first frame is whatever the tail broadcasts next, which
            // may still be a baseline event; from then on, one by one.
            assert!(body.seq <= last + 1, "missed the first live events");
            last = body.seq - 1;
        }
        assert_eq!(body.seq, last + 1, "lost or repeated an event");
        last = body.seq;
        frames += 1;
    }
    frames
}

fn main() {
    let changes = env_usize("SUBSCRIBE_CHANGES", 200_000);
    let subscribers = env_usize("SUBSCRIBERS", 50);
    // `SUBSCRIBE_RATE=<changes/s>` paces the live phase's writes (default: as fast as the
    // writer goes): shows whether every subscriber keeps up at that rate.
    let rate = std::env::var("SUBSCRIBE_RATE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|r| *r > 0.0);
    let dir = tempfile::tempdir().unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (store, addr) = server_rt.block_on(async {
        let store = Store::open(&dir.path().join("index.sqlite")).unwrap();
        // Every subscriber connects from loopback: lift the per-client cap.
        let config = LinkFeedConfig {
            max_per_client: 1_024,
            ..LinkFeedConfig::default()
        };
        let feed = LinkFeed::from_writer(store.reader(), store.writer().link_events(), config);
        let state = AppState::new(store.reader(), "bench").with_link_feed(feed);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(xrpc::serve_with(
            listener,
            xrpc::router(state),
            ServerConfig::unlimited(),
            std::future::pending(),
        ));
        (store, addr)
    });
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = i64::try_from(changes).unwrap();

    // 1. Baseline: commits with their outbox rows, nobody subscribed.
    let (started, cpu) = (Instant::now(), cpu_secs());
    server_rt.block_on(write(&store, 0, changes, None));
    let base = started.elapsed();
    let base_rate = changes as f64 / base.as_secs_f64();
    println!(
        "baseline: {changes} changes committed, no subscriber: {base:.2?} = {base_rate:.0} \
         changes/s; CPU {:.1} s",
        cpu_secs() - cpu
    );

    // 2. Live fan-out to every subscriber.
    let subs: Vec<_> = (0..subscribers)
        .map(|_| client_rt.spawn(subscriber(addr, None, n, 2 * n)))
        .collect();
    // Let every subscription reach the live ring.
    client_rt.block_on(async { tokio::time::sleep(Duration::from_millis(500)).await });
    let (started, cpu, client_cpu) = (Instant::now(), cpu_secs(), client_cpu_secs());
    let writing = {
        let store = store.clone();
        server_rt.spawn(async move { write(&store, changes, changes, rate).await })
    };
    let delivered: usize = client_rt.block_on(async {
        let mut total = 0;
        for s in subs {
            total += s.await.unwrap();
        }
        total
    });
    let live = started.elapsed();
    server_rt.block_on(writing).unwrap();
    let live_rate = changes as f64 / live.as_secs_f64();
    let live_cpu = cpu_secs() - cpu;
    let live_client_cpu = client_cpu_secs() - client_cpu;
    let server_cpu = live_cpu - live_client_cpu;
    println!(
        "live: {changes} changes to each of {subscribers} subscribers ({delivered} frames): \
         {live:.2?} = {live_rate:.0} changes/s delivered to all ({:.0} frames/s), \
         {:.0}% of the baseline commit rate; CPU {live_cpu:.1} s = {:.2} µs per frame \
         (writes, fan-out and the clients' decoding together)",
        delivered as f64 / live.as_secs_f64(),
        100.0 * live_rate / base_rate,
        live_cpu * 1e6 / delivered as f64
    );
    // The server's own share: what one change delivered to every subscriber costs it, and the
    // rate its CPU alone would allow on the 2 cores when the consumers run elsewhere.
    println!(
        "live, server side only: {server_cpu:.1} s CPU = {:.2} µs per frame, {:.1} µs per \
         change delivered to all {subscribers}; 2 cores allow {:.0} changes/s; the \
         subscribers' thread used {live_client_cpu:.1} s ({:.2} µs per frame)",
        server_cpu * 1e6 / delivered as f64,
        server_cpu * 1e6 / changes as f64,
        2.0 * changes as f64 / server_cpu.max(1e-9),
        live_client_cpu * 1e6 / delivered as f64
    );

    // 3. Replay of the whole retained window.
    let (started, cpu) = (Instant::now(), cpu_secs());
    let delivered: usize = client_rt.block_on(async {
        let subs: Vec<_> = (0..subscribers)
            .map(|_| tokio::spawn(subscriber(addr, Some(0), 0, 2 * n)))
            .collect();
        let mut total = 0;
        for s in subs {
            total += s.await.unwrap();
        }
        total
    });
    let replay = started.elapsed();
    let replay_cpu = cpu_secs() - cpu;
    println!(
        "replay: {} events to each of {subscribers} subscribers from cursor=0: {replay:.2?} = \
         {:.0} changes/s each ({:.0} frames/s); CPU {replay_cpu:.1} s = {:.2} µs per frame",
        2 * changes,
        (2 * changes) as f64 / replay.as_secs_f64(),
        delivered as f64 / replay.as_secs_f64(),
        replay_cpu * 1e6 / delivered as f64
    );
}
