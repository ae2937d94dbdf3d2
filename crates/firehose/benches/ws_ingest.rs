//! The whole consumer through a loopback WebSocket: a Rust sender thread (a tungstenite
//! server, like a relay) streams frames into `firehose::run` (the fastwebsockets client,
//! gate, processor, verification pool, SQLite store), on a current-thread runtime (one
//! core for the stream; the store's blocking work runs on tokio's blocking threads).
//!
//! Frames: the 25 real `#commit`s of the indigo relay scenarios (`testdata/peers/...`,
//! 5.7 KB on the wire, none concerns the index), `seq` patched to increase; in the
//! `tracked` runs, every `WS_TRACKED_EVERY`-th frame is instead the next commit of one of
//! 64 tracked repos (signed K-256 Sync 1.1 commits from `testkit::atproto`, a like each on
//! a 500-record MST; the first commit of each repo creates its `org.xmtp.inbox` record).
//!
//! Per run: the runtime thread's CPU (read path, gate, processor, verification lanes), the
//! whole process's CPU minus the sender thread's, and the wall rate from the first byte
//! to the cursor of the last frame committed in the store. Same-run baseline: the same
//! frames through `ingest_frames` (no socket).
//!
//! `cargo bench -p firehose --bench ws_ingest` (env `WS_FRAMES`, `WS_ROUNDS`,
//! `WS_TRACKED_EVERY`, `WS_TRACKED_FRAMES`).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{
    End, Pooled, SEQ_BASE, deps, env, median, process_cpu_ns, relay, runtime, seq_offset,
    thread_cpu_ns,
};
use firehose::{FirehoseConfig, LiveStatus};
use sync::StaticIdentity;
use testkit::atproto::{SynthRepo, Write, inbox_record};
use tokio_util::sync::CancellationToken;
use wire::frame::Frame;

/// `n` commits of 64 tracked repos, in per-repo order; registers their keys.
fn tracked(identity: &StaticIdentity, n: usize) -> Vec<Pooled> {
    let start = 1_780_000_000_000_000;
    let mut repos: Vec<SynthRepo> = (0..64)
        .map(|i| {
            let did = format!("did:plc:{:0>24}", format!("tracked{i}"));
            let (mut r, _) = common::known_repo(identity, &did, start);
            r.preload((0..500).map(|k| {
                (
                    format!("app.bsky.feed.like/3l{k:011}"),
                    repo::cbor::json_to_cbor(&serde_json::json!({"k": k, "did": did})).unwrap(),
                )
            }));
            r
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let r = &mut repos[i % 64];
        let w = if i < 64 {
            Write::Put(
                "org.xmtp.inbox/self".into(),
                inbox_record(
                    &format!("{:064x}", i + 1),
                    "AAECAwQFBgcICQoLDA0ODw==",
                    "2026-07-04T12:00:00.000Z",
                ),
            )
        } else {
            let subject = serde_json::json!({
                "uri": format!("at://did:plc:x/app.bsky.feed.post/{i}"),
                "cid": "bafyreib2rxk3rh6kzwq4jsl5ngpoc6dpt7ukmrbdpcr6lqx6fxvcpkv5by"
            });
            Write::Put(
                format!("app.bsky.feed.like/3m{i:011}"),
                repo::cbor::json_to_cbor(&serde_json::json!({
                    "$type": "app.bsky.feed.like",
                    "subject": subject,
                    "createdAt": "2026-07-04T12:00:00.000Z"
                }))
                .unwrap(),
            )
        };
        let b = Frame::Commit(r.commit(SEQ_BASE as i64, &[w])).encode();
        let at = seq_offset(&b);
        out.push((b, at));
    }
    out
}

/// The stream: frame `i` (seq `SEQ_BASE + 1 + i`).
#[derive(Clone)]
struct Plan {
    bg: Arc<Vec<Pooled>>,
    tracked: Arc<Vec<Pooled>>,
    every: u64,
    n: u64,
}

impl Plan {
    fn frame(&self, i: u64) -> Bytes {
        let pooled = if self.every > 0 && i % self.every == self.every - 1 {
            &self.tracked[((i / self.every) as usize) % self.tracked.len()]
        } else {
            &self.bg[(i as usize) % self.bg.len()]
        };
        common::nth(pooled, i)
    }

    fn tracked_frames(&self) -> u64 {
        self.n.checked_div(self.every).unwrap_or(0)
    }
}

struct Figures {
    thread_ns: f64,
    process_ns: f64,
    fps: f64,
}

fn quiet_cfg(relay_url: String) -> FirehoseConfig {
    let mut cfg = FirehoseConfig {
        relay_url,
        ..FirehoseConfig::default()
    };
    // The tail of a run is not held by the 1 s batch timer.
    cfg.batch_interval = Duration::from_millis(20);
    // Resyncs of the new repos would ask a PDS that does not exist: keep them queued.
    cfg.worker.poll_interval = Duration::from_secs(3600);
    cfg.worker.initial_host_backoff = Duration::from_secs(3600);
    cfg
}

fn over_socket(plan: &Plan, identity: &Arc<StaticIdentity>) -> Figures {
    let sent = plan.clone();
    let (url, h) = relay(move |i| sent.frame(i), plan.n, End::Hold);
    let (plan, identity) = (plan.clone(), identity.clone());
    let (thread_ns, process_ns, el, sender_ns) = std::thread::spawn(move || {
        let dir = tempfile::tempdir().unwrap();
        let store = store::Store::open(&dir.path().join("bench.sqlite")).unwrap();
        let rt = runtime();
        let status = Arc::new(LiveStatus::new());
        let stop = CancellationToken::new();
        let last = (SEQ_BASE + plan.n) as i64;
        let p0 = process_cpu_ns();
        let c0 = thread_cpu_ns();
        let t = Instant::now();
        rt.block_on(async {
            let run = tokio::spawn(firehose::run(
                quiet_cfg(url),
                deps(&store, &identity),
                status.clone(),
                stop.clone(),
            ));
            while status.cursor() < last {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            stop.cancel();
            run.await.unwrap().unwrap();
        });
        let el = t.elapsed();
        let thread_ns = thread_cpu_ns() - c0;
        let sender_ns = h.join().unwrap();
        let process_ns = process_cpu_ns() - p0;
        let fs = rt.block_on(store.reader().firehose_state()).unwrap();
        assert_eq!(fs.cursor, Some(last), "cursor covers the whole stream");
        if plan.every > 0 {
            let c = rt.block_on(store.reader().counts()).unwrap();
            assert!(c.pending > 0, "the tracked repos' links are indexed");
        }
        (thread_ns, process_ns, el, sender_ns)
    })
    .join()
    .unwrap();
    let n = plan.n as f64;
    Figures {
        thread_ns: thread_ns as f64 / n,
        process_ns: process_ns.saturating_sub(sender_ns) as f64 / n,
        fps: n / el.as_secs_f64(),
    }
}

fn in_memory(plan: &Plan, identity: &Arc<StaticIdentity>) -> Figures {
    let (plan, identity) = (plan.clone(), identity.clone());
    std::thread::spawn(move || {
        let frames: Vec<Bytes> = (0..plan.n).map(|i| plan.frame(i)).collect();
        let dir = tempfile::tempdir().unwrap();
        let store = store::Store::open(&dir.path().join("bench.sqlite")).unwrap();
        let rt = runtime();
        let p0 = process_cpu_ns();
        let c0 = thread_cpu_ns();
        let t = Instant::now();
        let r = rt
            .block_on(firehose::ingest_frames(
                quiet_cfg("ws://127.0.0.1:9".into()),
                deps(&store, &identity),
                Arc::new(LiveStatus::new()),
                frames,
            ))
            .unwrap();
        let el = t.elapsed();
        let n = r.frames as f64;
        Figures {
            thread_ns: (thread_cpu_ns() - c0) as f64 / n,
            process_ns: (process_cpu_ns() - p0) as f64 / n,
            fps: n / el.as_secs_f64(),
        }
    })
    .join()
    .unwrap()
}

fn main() {
    let n = env("WS_FRAMES", 1_000_000);
    let rounds = env("WS_ROUNDS", 3);
    let every = env("WS_TRACKED_EVERY", 50);
    let tracked_n = env("WS_TRACKED_FRAMES", 200_000);
    let identity = Arc::new(StaticIdentity::new());
    let bg = Arc::new(common::indigo_commits());
    let t = Instant::now();
    let tr = Arc::new(tracked(&identity, (tracked_n / every) as usize));
    println!(
        "{} background #commit frames, {} tracked commits generated in {:.1?}",
        bg.len(),
        tr.len(),
        t.elapsed()
    );
    let quiet = Plan {
        bg: bg.clone(),
        tracked: tr.clone(),
        every: 0,
        n,
    };
    let busy = Plan {
        bg,
        tracked: tr,
        every,
        n: tracked_n,
    };
    let names = [
        "memory, no relevant frame",
        "socket, no relevant frame",
        "memory, 1/N tracked commits",
        "socket, 1/N tracked commits",
    ];
    let mut res: [Vec<Figures>; 4] = Default::default();
    for r in 0..rounds {
        res[0].push(in_memory(&quiet, &identity));
        res[1].push(over_socket(&quiet, &identity));
        res[2].push(in_memory(&busy, &identity));
        res[3].push(over_socket(&busy, &identity));
        println!("round {r}:");
        for (i, name) in names.iter().enumerate() {
            let f = &res[i][r as usize];
            println!(
                "  {name:<30} runtime thread {:.3} µs CPU/frame, process {:.3} µs, {:.0} frames/s",
                f.thread_ns / 1e3,
                f.process_ns / 1e3,
                f.fps
            );
        }
    }
    let med = |i: usize, f: fn(&Figures) -> f64| median(res[i].iter().map(f).collect());
    for (i, name) in names.iter().enumerate() {
        println!(
            "median {name:<30} runtime thread {:>6.3} µs CPU/frame, process {:>6.3} µs, {:>9.0} frames/s",
            med(i, |f| f.thread_ns) / 1e3,
            med(i, |f| f.process_ns) / 1e3,
            med(i, |f| f.fps)
        );
    }
    let k = busy.tracked_frames() as f64 / busy.n as f64;
    for (label, quiet_i, busy_i) in [("memory", 0, 2), ("socket", 1, 3)] {
        let thread = (med(busy_i, |f| f.thread_ns) - med(quiet_i, |f| f.thread_ns)) / k;
        let process = (med(busy_i, |f| f.process_ns) - med(quiet_i, |f| f.process_ns)) / k;
        println!(
            "per tracked commit ({label}, 1 in {every}): runtime thread {:.1} µs CPU, process {:.1} µs",
            thread / 1e3,
            process / 1e3
        );
    }
}
