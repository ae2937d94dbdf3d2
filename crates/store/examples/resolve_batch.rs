//! `cargo run --release -p store --example resolve_batch -- <index.sqlite> <batches>`: the
//! store side of `resolveActors(100)` alone, for instruction counts under callgrind (run it
//! with 0 batches too and subtract: the rest is per batch). Uses an index seeded by the
//! `query_load` bench (its DIDs).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn did_for(i: u64) -> String {
    const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let (a, b) = (mix(i), mix(i ^ 0x5555_5555_5555_5555));
    let mut s = String::with_capacity(32);
    s.push_str("did:plc:");
    for k in 0..12 {
        s.push(char::from(B32[((a >> (k * 5)) & 31) as usize]));
    }
    for k in 0..12 {
        s.push(char::from(B32[((b >> (k * 5)) & 31) as usize]));
    }
    s
}

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
