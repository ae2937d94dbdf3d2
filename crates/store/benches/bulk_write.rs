//! `cargo bench -p store --bench bulk_write`: bulk writes of the backfill's shape through the
//! real `store::Writer`.
//!
//! Writes `BULK_LINKS` (default 1,000,000) new links as backfill does — one `PutRecord`
//! (real-shaped CID, inbox ID, signature, `createdAt`) per DID, `BULK_BATCH` (default 5,000)
//! per batch, batches handed to the writer back to back — into a fresh index in a temporary
//! directory (or `BULK_DIR`), in random DID order (`BULK_SORTED=1`: DID order, as discovery
//! pages list them). Prints links/s overall and for the last tenth (the index then holds
//! 90 % of the links), bytes per link on disk, and the process's peak RSS.
//!
//! `BULK_SHAPE=backfill` writes each DID as the backfill collector does: `Handle`, then
//! `PutRecord` with a rev, `RepoState`, `AccountStatus` (active) and the DID's `Backfill`
//! progress (the backfill table starts with every DID pending, as after discovery).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::Instant;

use store::{BackfillChange, BackfillState, Batch, Change, RecordInput, Store};
use syntax::{Cid, Did, Handle, Tid};

#[path = "support/seed.rs"]
mod seed;
use seed::{cid_for, did_for, inbox_for, mix};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(n: u64) -> RecordInput {
    let mut sig = Vec::with_capacity(64);
    for k in 0..8 {
        sig.extend_from_slice(&mix(n * 8 + k + 7).to_le_bytes());
    }
    use base64::Engine as _;
    RecordInput {
        cid: Cid::parse(&cid_for(n)).unwrap(),
        inbox_id: inbox_for(n),
        verification_signature: base64::engine::general_purpose::STANDARD.encode(sig),
        created_at: "2026-06-01T12:00:00.000Z".into(),
        malformed: None,
    }
}

/// The changes of one DID: its record alone, or everything the backfill writes for it.
fn changes_of(did: &str, k: u64, backfill: bool) -> Vec<Change> {
    let did = Did::parse(did).unwrap();
    if !backfill {
        return vec![Change::PutRecord {
            did,
            rev: None,
            record: record(k),
        }];
    }
    let rev = Tid::from_parts(1_750_000_000_000_000 + k % 100_000_000_000, 0);
    vec![
        Change::Handle {
            did: did.clone(),
            handle: Some(Handle::parse(&format!("user{k}.bsky.social")).unwrap()),
        },
        Change::PutRecord {
            did: did.clone(),
            rev: Some(rev.clone()),
            record: record(k),
        },
        Change::RepoState {
            did: did.clone(),
            rev,
            data_cid: Cid::parse(&format!("bafyreidata{k}")).unwrap(),
            commit_cid: Cid::parse(&format!("bafyreicommit{k}")).unwrap(),
        },
        Change::AccountStatus {
            did: did.clone(),
            active: true,
            status: None,
        },
        Change::Backfill(BackfillChange::Repo {
            did: did.into_string(),
            state: BackfillState::Indexed,
            error: None,
        }),
    ]
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n = env_usize("BULK_LINKS", 1_000_000);
    let batch = env_usize("BULK_BATCH", 5_000);
    let sorted = std::env::var("BULK_SORTED").is_ok_and(|v| v == "1");
    let backfill = std::env::var("BULK_SHAPE").is_ok_and(|v| v == "backfill");
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("BULK_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bulk.sqlite");
    let _ = std::fs::remove_file(&path);
    let mut dids: Vec<(String, u64)> = (0..n as u64).map(|i| (did_for(i), i)).collect();
    if sorted {
        dids.sort_unstable();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Store::open(&path).unwrap();
    let writer = store.writer();
    if backfill {
        // Discovery's pages: every DID pending before the fetch phase.
        rt.block_on(async {
            for chunk in dids.chunks(1000) {
                let page = BackfillChange::Page {
                    service: "bench".into(),
                    cursor: None,
                    complete: false,
                    dids: chunk.iter().map(|(d, _)| d.clone()).collect(),
                };
                let batch = Batch::of(vec![Change::Backfill(page)]);
                writer.apply(batch).await.unwrap();
            }
        });
    }
    let started = Instant::now();
    let mut tail_started = started;
    rt.block_on(async {
        // Keep a few batches in flight, as the backfill's fetchers do.
        let mut inflight = std::collections::VecDeque::new();
        for (i, chunk) in dids.chunks(batch).enumerate() {
            if i * batch >= n * 9 / 10 && tail_started == started {
                tail_started = Instant::now();
            }
            let changes = chunk
                .iter()
                .flat_map(|(did, k)| changes_of(did, *k, backfill))
                .collect();
            let w = writer.clone();
            inflight.push_back(tokio::spawn(
                async move { w.apply(Batch::of(changes)).await },
            ));
            if inflight.len() >= 4 {
                inflight.pop_front().unwrap().await.unwrap().unwrap();
            }
        }
        for h in inflight {
            h.await.unwrap().unwrap();
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let tail = tail_started.elapsed().as_secs_f64();
    let counts = rt.block_on(store.reader().counts()).unwrap();
    assert_eq!(counts.pending as usize, n);
    let size: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "bulk_write: {n} links ({} order, batches of {batch}) in {secs:.1} s = {:.0} links/s; \
         last tenth {:.0} links/s; {:.0} B per link on disk; peak RSS {:.1} MiB",
        if sorted { "DID" } else { "random" },
        n as f64 / secs,
        (n - n * 9 / 10) as f64 / tail,
        size as f64 / n as f64,
        peak_rss_mib()
    );
}
