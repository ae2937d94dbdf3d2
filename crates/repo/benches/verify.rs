//! Per-commit verification cost: ECDSA verify on K-256 and P-256, and the full `#commit` path
//! (CAR parse with block hashing, commit decode, signature, MST inversion) over indigo's
//! real relay-scenario commits. Run: `cargo bench -p repo --bench verify`.
//!
//! The K-256 verifier is compared, same run, with the `k256` 0.13 path this crate used
//! before (parse, low-S check, `verify_prehash`). Rates are per CPU-second of the bench
//! thread (`/proc/thread-self/schedstat`), so other load on the machine does not count.
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use repo::{Commit, Curve, Op, OpAction, PrivateKey, PublicKey, parse_cid, verify_commit};

/// CPU time of this thread, in ns.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs `f` for ~1.5 s after a warm-up; prints and returns µs of thread CPU per op.
fn bench(name: &str, per_iter: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut iters = 0usize;
    while start.elapsed() < Duration::from_millis(1500) {
        f();
        iters += 1;
    }
    let ops = (iters * per_iter) as f64;
    let wall = start.elapsed().as_secs_f64() * 1e6 / ops;
    let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e3 / ops;
    println!(
        "{name:<44} {cpu:>9.2} µs CPU/op {:>9.0} ops per CPU-s  (wall {wall:.2} µs/op)",
        1e6 / cpu
    );
    cpu
}

/// k256 0.13 against this crate's verifier (libsecp256k1), interleaved rounds.
fn k256_comparison() {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let key = PrivateKey::generate(Curve::K256);
    let digest = [0x5au8; 32];
    let sig = key.sign_prehash(&digest);
    let pk = key.public_key();
    let old = k256::ecdsa::VerifyingKey::from_sec1_bytes(&pk.to_compressed()).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        a.push(bench("K-256 verify, k256 0.13 (before)", 1, || {
            let s = k256::ecdsa::Signature::from_slice(black_box(&sig)).unwrap();
            assert!(s.normalize_s().is_none());
            old.verify_prehash(black_box(&digest), &s).unwrap();
        }));
        b.push(bench("K-256 verify, PublicKey (libsecp256k1)", 1, || {
            pk.verify_prehash(black_box(&digest), black_box(&sig))
                .unwrap();
        }));
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    println!(
        "median: k256 0.13 {:.1} µs, libsecp256k1 {:.1} µs: {:.2}x faster",
        a[1],
        b[1],
        a[1] / b[1]
    );
}

fn link(v: &serde_json::Value) -> Option<repo::Cid> {
    v.get("$link")
        .and_then(|l| l.as_str())
        .map(|s| parse_cid(s).unwrap())
}

/// One commit as the bench holds it: CAR, commit CID, DID, rev, ops, `prevData`.
type Prepared<'a> = (
    &'a [u8],
    repo::Cid,
    &'a str,
    &'a str,
    Vec<Op<'a>>,
    repo::Cid,
);

/// `passes` times the full check (CAR, signature, inversion) of every commit.
#[inline(never)]
fn full_check(prepared: &[Prepared<'_>], key: &PublicKey, passes: usize) {
    for _ in 0..passes {
        for (car, cid, did, rev, ops, prev) in prepared {
            let v = verify_commit(car, cid, did, rev, key).unwrap();
            black_box(v.invert(ops, prev)).unwrap();
        }
    }
}

fn main() {
    // `VERIFY_CHECK_PASSES=<n>`: only `n` passes of the full check over the six commits
    // (no timing loops), for `valgrind --tool=callgrind --toggle-collect='*full_check*'` or
    // `perf stat` (two pass counts, subtracted).
    let check_passes: Option<usize> = std::env::var("VERIFY_CHECK_PASSES")
        .ok()
        .and_then(|v| v.parse().ok());
    if check_passes.is_none() {
        k256_comparison();
    }
    for curve in [Curve::K256, Curve::P256]
        .into_iter()
        .filter(|_| check_passes.is_none())
    {
        let key = PrivateKey::generate(curve);
        let mut c = Commit::new_unsigned("did:plc:bench", repo::mst::empty_root(), "3kaaaaaaaaaaa");
        c.sign(&key);
        let pk = key.public_key();
        bench(&format!("commit signature verify {curve:?}"), 1, || {
            black_box(c.verify(black_box(&pk))).unwrap();
        });
    }

    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/peers/indigo/cmd/relay/testing/testdata"
    );
    let text =
        std::fs::read(format!("{dir}/post_lifecycle.json")).expect("testdata/ vectors missing");
    let scenario: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let mb = scenario["accounts"][0]["identity"]["keys"]["atproto"]["publicKeyMultibase"]
        .as_str()
        .unwrap();
    let key = PublicKey::from_multibase(mb).unwrap();
    use base64::Engine;
    let frames: Vec<_> = scenario["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["frame"]["body"].clone())
        .filter(|b| b.get("prevData").is_some())
        .map(|b| {
            let car = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(
                    b["blocks"]["$bytes"]
                        .as_str()
                        .unwrap()
                        .trim_end_matches('='),
                )
                .unwrap();
            (b.clone(), car)
        })
        .collect();
    let n = frames.len();
    let prepared: Vec<Prepared<'_>> = frames
        .iter()
        .map(|(b, car)| {
            let ops: Vec<Op<'_>> = b["ops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| Op {
                    action: OpAction::parse(o["action"].as_str().unwrap()).unwrap(),
                    path: o["path"].as_str().unwrap(),
                    cid: link(&o["cid"]),
                    prev: link(&o["prev"]),
                })
                .collect();
            (
                car.as_slice(),
                link(&b["commit"]).unwrap(),
                b["repo"].as_str().unwrap(),
                b["rev"].as_str().unwrap(),
                ops,
                link(&b["prevData"]).unwrap(),
            )
        })
        .collect();
    if let Some(passes) = check_passes {
        full_check(&prepared, &key, passes);
        return;
    }
    let mean = prepared.iter().map(|p| p.0.len()).sum::<usize>() / n;
    println!("({n} real Sync 1.1 commits, mean CAR {mean} B, K-256 keys)");
    bench("CAR parse + commit decode (no signature)", n, || {
        for (car, cid, did, rev, _, _) in &prepared {
            black_box(repo::CommitCar::parse(car, cid, did, rev)).unwrap();
        }
    });
    bench("CAR parse + decode + MST inversion (no sig)", n, || {
        for (car, cid, did, rev, ops, _) in &prepared {
            let c = repo::CommitCar::parse(car, cid, did, rev).unwrap();
            black_box(c.inverted_root(ops)).unwrap();
        }
    });
    bench("full verify_commit + invert (K-256)", n, || {
        for (car, cid, did, rev, ops, prev) in &prepared {
            let v = verify_commit(car, cid, did, rev, &key).unwrap();
            v.invert(ops, prev).unwrap();
        }
    });
}
