//! The gate's tracked-set cost with 1M links indexed (issue 11): `Gate::on_message` over
//! real-shaped `#commit` frames, with the `TrackedSet` loaded from an empty index (the
//! same-run baseline) and from an index of `GATE_LINKS` (default 1,000,000) links.
//!
//! Frames: the 25 real indigo `#commit`s (`testdata/peers/...`, 5.7 KB on the wire), their
//! `repo` DID rewritten (same length) so that each of `GATE_FRAMES` (default 4,096) frames
//! comes from a distinct DID; held in memory as `Bytes` (a clone per message is a reference
//! count), `seq` increasing, a fresh gate per pass. Three runs:
//! - `empty`: no DID indexed (the filter is empty and answers without hashing);
//! - `untracked`: 1M links indexed, frames from DIDs not among them: the Bloom filter rules
//!   out most, the ~0.5 % it lets through cost a probe of the index (`Reader::tracks_did`);
//! - `tracked`: frames from indexed DIDs: every one is probed (and forwarded).
//!
//! Per run: CPU ns per frame of the bench thread (`/proc/thread-self/schedstat`), median of
//! `GATE_ROUNDS` interleaved rounds of `GATE_PASSES` passes. For instruction counts, which
//! do not move with load, run one variant under callgrind counting only the gate loop:
//!
//! ```sh
//! GATE_INDEX=/tmp/gate-1m GATE_ONLY=untracked GATE_ROUNDS=1 GATE_PASSES=2 \
//!   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*gate_pass*' \
//!   target/release/deps/gate_tracked-<hash>
//! ```
//!
//! `cargo bench -p firehose --bench gate_tracked` (env `GATE_LINKS`, `GATE_FRAMES`,
//! `GATE_ROUNDS`, `GATE_PASSES`, `GATE_ONLY`, `GATE_INDEX`: a directory that keeps the
//! seeded index between runs).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use common::{env, median, runtime, thread_cpu_ns};
use firehose::TrackedSet;
use firehose::gate::{Gate, Verdict};
use store::{Batch, Change, RecordInput, Store};

// The same DID generator as store's bulk_write and xrpc's query_load.
#[path = "../../store/benches/support/seed.rs"]
mod seed;
use seed::{did_for, inbox_for};

/// Untracked DIDs are drawn from far above the indexed ones.
const UNTRACKED: u64 = 1 << 40;

fn record(n: u64) -> RecordInput {
    RecordInput {
        cid: syntax::Cid::parse("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm")
            .unwrap(),
        inbox_id: inbox_for(n),
        verification_signature: "AAECAwQFBgcICQoLDA0ODw==".into(),
        created_at: "2026-06-01T12:00:00.000Z".into(),
        malformed: None,
    }
}

/// Opens `dir/index.sqlite`, seeding `n` links (DIDs `0..n`) when it holds fewer.
fn index(dir: &Path, n: u64) -> Store {
    std::fs::create_dir_all(dir).unwrap();
    let store = Store::open(&dir.join("index.sqlite")).unwrap();
    let rt = runtime();
    let c = rt.block_on(store.reader().counts()).unwrap();
    let have = c.verified + c.pending + c.invalid;
    if have >= n {
        return store;
    }
    let t = Instant::now();
    let w = store.writer();
    rt.block_on(async {
        for chunk in (have..n).collect::<Vec<_>>().chunks(5_000) {
            let changes = chunk
                .iter()
                .map(|&k| Change::PutRecord {
                    did: syntax::Did::parse(&did_for(k)).unwrap(),
                    rev: None,
                    record: record(k),
                })
                .collect();
            w.apply(Batch::of(changes)).await.unwrap();
        }
    });
    println!(
        "seeded {} links into {} in {:.1?}",
        n - have,
        dir.display(),
        t.elapsed()
    );
    store
}

/// `count` frames from the indigo `#commit`s, frame `i` from DID `did_for(first + i)` and
/// with seq `SEQ_BASE + 1 + i`.
fn frames(first: u64, count: u64) -> Vec<Bytes> {
    let pat = b"\x64repo\x78\x20did:plc:";
    let pool: Vec<_> = common::indigo_commits()
        .into_iter()
        .filter_map(|(b, at)| {
            let p = b.windows(pat.len()).position(|w| w == pat)?;
            Some((b, at, p + 7))
        })
        .collect();
    assert!(!pool.is_empty(), "no frame with a did:plc repo");
    (0..count)
        .map(|i| {
            let (b, at, did_at) = &pool[(i as usize) % pool.len()];
            let mut v = b.clone();
            v[*at..*at + 8].copy_from_slice(&(common::SEQ_BASE + 1 + i).to_be_bytes());
            v[*did_at..*did_at + 32].copy_from_slice(did_for(first + i).as_bytes());
            Bytes::from(v)
        })
        .collect()
}

/// One pass of a fresh gate over `frames`: (dropped, forwarded).
#[inline(never)]
fn gate_pass(tracked: &TrackedSet, frames: &[Bytes]) -> (u64, u64) {
    let mut gate = Gate::new(tracked.clone(), false, None);
    let (mut dropped, mut forwarded) = (0, 0);
    for f in frames {
        match gate.on_message(black_box(f.clone())) {
            Verdict::Dropped(_) => dropped += 1,
            Verdict::Forward(_) => forwarded += 1,
            other => panic!("unexpected verdict {other:?}"),
        }
    }
    (dropped, forwarded)
}

/// CPU ns per frame of `passes` passes; checks every frame got the expected verdict.
fn measure(tracked: &TrackedSet, frames: &[Bytes], passes: u64, expect_forwarded: bool) -> f64 {
    let t = thread_cpu_ns();
    for _ in 0..passes {
        let (d, f) = gate_pass(tracked, frames);
        let want = frames.len() as u64;
        assert_eq!(if expect_forwarded { f } else { d }, want, "verdicts");
    }
    (thread_cpu_ns() - t) as f64 / (passes * frames.len() as u64) as f64
}

fn main() {
    let links = env("GATE_LINKS", 1_000_000);
    let n = env("GATE_FRAMES", 4_096);
    let rounds = env("GATE_ROUNDS", 5);
    let passes = env("GATE_PASSES", 50);
    let only = std::env::var("GATE_ONLY").unwrap_or_default();
    let want = |v: &str| only.is_empty() || only == v;
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("GATE_INDEX").map_or_else(|_| tmp.path().join("1m"), Into::into);
    let rt = runtime();

    let empty_store = Store::open(&tmp.path().join("empty.sqlite")).unwrap();
    let empty = rt
        .block_on(TrackedSet::load(&empty_store.reader()))
        .unwrap();
    let (full, _store) = if want("untracked") || want("tracked") {
        let store = index(&dir, links);
        let t = Instant::now();
        let set = rt.block_on(TrackedSet::load(&store.reader())).unwrap();
        println!(
            "tracked set over {} links: {} DIDs loaded, filter {:.2} MiB, in {:.1?}",
            links,
            set.loaded(),
            set.filter_bytes() as f64 / (1 << 20) as f64,
            t.elapsed()
        );
        (Some(set), Some(store))
    } else {
        (None, None)
    };
    let untracked = frames(UNTRACKED, n);
    let tracked = frames(0, n.min(links));

    let mut res: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        if want("empty") {
            res[0].push(measure(&empty, &untracked, passes, false));
        }
        if let Some(set) = &full {
            if want("untracked") {
                res[1].push(measure(set, &untracked, passes, false));
            }
            if want("tracked") {
                // Probes are ~100x a filter lookup: fewer passes.
                res[2].push(measure(set, &tracked, passes.div_ceil(10), true));
            }
        }
    }
    let names = [
        "empty index (baseline)",
        "1M links, untracked DIDs (filter, ~0.5% probed)",
        "1M links, tracked DIDs (every frame probed)",
    ];
    for (name, v) in names.iter().zip(res) {
        if !v.is_empty() {
            let all: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
            println!(
                "gate, {name}: {:.0} ns CPU/frame (rounds: {})",
                median(v),
                all.join(" ")
            );
        }
    }
}
