//! Revocation latency on d14n with many subscribed inboxes: `verifier::watch` subscribed
//! (through the devnet d14n node, real gRPC on loopback) to N cached inboxes, then
//! updates are appended to random inboxes and the time until the watcher queues the inbox
//! for its re-check-now path is measured (p50/p99/max), one at a time and in a burst.
//! The re-check itself is one `QueryEnvelopes` + replay (see the e2e test for the whole
//! path, revocation → `invalid`). Memory: process RSS growth while the subscriptions are
//! opened, divided by N — an upper bound per inbox, since it also counts the devnet
//! node's per-stream state, which lives in the same process.
//!
//! Run: `BENCH_INBOXES=100000 cargo bench -p verifier --bench d14n_push` (release), or the
//! same through `cargo test --bench d14n_push` (debug, slower; the figures in BENCHMARKS.md
//! say which).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use devnet::xmtp::{StandInConfig, XmtpStandIn};
use std::time::{Duration, Instant};
use store::{Batch, Change, Store};
use xmtp::d14n::{D14nConfig, D14nIdentityApi};
use xmtp::ratelimit::RateLimit;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{what}: n={} p50={:.1?} p99={:.1?} max={:.1?}",
        v.len(),
        pct(&v, 0.5),
        pct(&v, 0.99),
        v[v.len() - 1]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_INBOXES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let v3 = XmtpStandIn::start(StandInConfig::default()).await.unwrap();
    let d14n = v3.start_d14n().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("index.sqlite")).unwrap();

    // N inboxes with one (opaque) log entry each, cached at that position.
    let t = Instant::now();
    let ids: Vec<String> = (0..n)
        .map(|_| hex::encode(rand::random::<[u8; 32]>()))
        .collect();
    for chunk in ids.chunks(10_000) {
        let mut changes = Vec::with_capacity(chunk.len());
        for id in chunk {
            v3.append_raw(id, vec![0x18, 0x01]);
            changes.push(Change::InboxState {
                inbox_id: id.clone(),
                last_sequence_id: 0,
                state: Vec::new(),
            });
        }
        store.writer().apply(Batch::of(changes)).await.unwrap();
    }
    println!(
        "setup: {n} inboxes logged and cached in {:.1?}",
        t.elapsed()
    );

    let mut c = D14nConfig::new(d14n.gateway_url());
    c.client.rate_limit = RateLimit::UNLIMITED;
    let api = D14nIdentityApi::new(c, None).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(100_000);
    let (_cached_tx, cached_rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = verifier::watch::WatchConfig::default();
    let streams = n.div_ceil(cfg.topics_per_stream) as u64;
    let rss0 = rss_bytes();
    let t = Instant::now();
    let stop = tokio_util_free_stop();
    tokio::spawn(verifier::watch::run(
        cfg,
        store.reader(),
        api,
        tx,
        cached_rx,
        stop.1,
    ));
    // Each stream catches up from its SQLite positions: the existing entries are pushed
    // once (position 0 < entry), drained here.
    let mut caught_up = 0usize;
    while caught_up < n {
        tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("catch-up stalled")
            .unwrap();
        caught_up += 1;
    }
    while d14n.calls("SubscribeEnvelopes") < streams {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss1 = rss_bytes();
    println!(
        "subscribed: {n} inboxes on {streams} streams, caught up in {:.1?}; RSS +{:.1} MiB = {} B/inbox (client + devnet node, upper bound)",
        t.elapsed(),
        (rss1.saturating_sub(rss0)) as f64 / (1 << 20) as f64,
        rss1.saturating_sub(rss0) / n as u64
    );

    // One at a time.
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let id = &ids[rand::random::<u64>() as usize % n];
        let t0 = Instant::now();
        v3.append_raw(id, vec![0x18, 0x02]);
        loop {
            let got = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .expect("push lost")
                .unwrap();
            if &got == id {
                break;
            }
        }
        lat.push(t0.elapsed());
    }
    report("sequential updates → re-check queued", lat);

    // A burst: `samples` updates at once to distinct inboxes.
    let burst: Vec<&String> = (0..samples).map(|i| &ids[(i * 7919) % n]).collect();
    let t0 = Instant::now();
    let mut sent = std::collections::HashMap::new();
    for id in &burst {
        sent.insert((*id).clone(), t0.elapsed());
        v3.append_raw(id, vec![0x18, 0x03]);
    }
    let mut lat = Vec::with_capacity(samples);
    while !sent.is_empty() {
        let got = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("push lost")
            .unwrap();
        if let Some(at) = sent.remove(&got) {
            lat.push(t0.elapsed() - at);
        }
    }
    report("burst updates → re-check queued", lat);
    let _ = stop.0.send(());
}

/// A shutdown future and its trigger.
fn tokio_util_free_stop() -> (
    tokio::sync::oneshot::Sender<()>,
    impl std::future::Future<Output = ()> + Send,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}
