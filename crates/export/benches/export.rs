//! Export throughput and memory: seeds an index of `EXPORT_BENCH_LINKS` links (default
//! 1,000,000), then streams it as JSON lines and as CSV into a byte-counting sink, sampling
//! the process's resident memory every 50,000 rows to show that it stays flat.
//!
//! Run: `cargo bench -p export --bench export`.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::io::Write;
use std::time::Instant;

use export::{Format, export_stream};
use store::{Batch, Change, RecordInput, Status, Store};

const BATCH: usize = 10_000;

/// Anonymous resident memory of this process (heap and stacks), in MiB. File-backed pages
/// (the index's memory map, which the kernel can drop at will) are reported apart.
fn rss_mib() -> f64 {
    status_kib("RssAnon:") / 1024.0
}

/// File-backed resident memory (mapped index pages), in MiB.
fn rss_file_mib() -> f64 {
    status_kib("RssFile:") / 1024.0
}

fn status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

/// Counts bytes and rows, and samples RSS every 50,000 rows.
struct Sink {
    bytes: u64,
    newlines: u64,
    max_rss: f64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        for _ in buf.iter().filter(|b| **b == b'\n') {
            self.newlines += 1;
            if self.newlines.is_multiple_of(50_000) {
                self.max_rss = self.max_rss.max(rss_mib());
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn seed(store: &Store, n: usize) {
    let writer = store.writer();
    for start in (0..n).step_by(BATCH) {
        let mut changes = Vec::with_capacity(BATCH * 3);
        for i in start..(start + BATCH).min(n) {
            let did = syntax::Did::parse(&format!("did:plc:{i:024}")).unwrap();
            let cid = syntax::Cid::parse(&format!("bafyreib{i:051x}")).unwrap();
            changes.push(Change::PutRecord {
                did: did.clone(),
                rev: None,
                record: RecordInput {
                    cid: cid.clone(),
                    inbox_id: format!("{:064x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
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
                installation_key: Some(format!("{:064x}", i)),
            });
            changes.push(Change::Handle {
                did,
                handle: Some(syntax::Handle::parse(&format!("u{i}.bench.example.com")).unwrap()),
            });
        }
        writer.apply(Batch::of(changes)).await.unwrap();
    }
}

fn run(db: &std::path::Path, format: Format, name: &str, n: usize) {
    let before = rss_mib();
    let mut sink = Sink {
        bytes: 0,
        newlines: 0,
        max_rss: before,
    };
    let t = Instant::now();
    let rows = export_stream(db, format, false, &mut sink).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(rows as usize, n);
    println!(
        "{name:6} {rows} rows in {secs:.2} s = {:.0} rows/s, {:.1} MB out; anonymous RSS {before:.1} MiB before, max {:.1} MiB during (+{:.1}); mapped index pages {:.0} MiB after",
        rows as f64 / secs,
        sink.bytes as f64 / 1e6,
        sink.max_rss,
        sink.max_rss - before,
        rss_file_mib()
    );
}

fn main() {
    let n: usize = std::env::var("EXPORT_BENCH_LINKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.sqlite");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = Instant::now();
    {
        let store = Store::open(&db).unwrap();
        rt.block_on(seed(&store, n));
    }
    println!("seeded {n} links in {:.1} s", t.elapsed().as_secs_f64());
    for round in 0..2 {
        println!("round {round}");
        run(&db, Format::Jsonl, "jsonl", n);
        run(&db, Format::Csv, "csv", n);
    }
}
