//! `cargo run --release -p store --example resolve_batch -- <index.sqlite> <batches>`: the
//! store side of `resolveActors(100)` alone, for instruction counts under callgrind (run it
//! with 0 batches too and subtract: the rest is per batch). Uses an index seeded by the
//! `query_load` bench (its DIDs, from the same `benches/support/seed.rs`).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

#[path = "../benches/support/seed.rs"]
mod seed;

use seed::{did_for, mix};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::Path::new(&args[1]);
    let batches: u64 = args[2].parse().unwrap();
    let links: u64 = 1_000_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reader = store::Reader::open_read_only(path).unwrap();
    let mut bytes = 0;
    rt.block_on(async {
        for b in 0..batches {
            let dids = (0..100)
                .map(|k| did_for(mix(b * 100 + k) % links))
                .collect();
            bytes += reader.links_json_by_dids(dids, false).await.unwrap().len();
        }
    });
    println!("{batches} batches, {bytes} bytes");
}
