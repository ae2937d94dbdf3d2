//! Installation-signature verification throughput on one core (target ≥ 20,000/s).
//!
//! Run: `cargo bench -p xmtp --bench installation_signatures`. Measures the full reference
//! check of a record (Node-compatible base64 decode, key decompression, Ed25519ph verify)
//! and the verifier's hot path (key decompressed once per inbox state).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::{Duration, Instant};
use xmtp::InstallationKey;
use xmtp::installation::{PUBLIC_SIGNATURE_CONTEXT, verify_with_key};

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`), so the rate
/// per CPU-second shows what one dedicated core does even when the machine is shared.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn measure(name: &str, mut f: impl FnMut(usize) -> bool) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let cpu0 = thread_cpu_ns();
        let mut n = 0usize;
        while start.elapsed() < Duration::from_millis(1500) {
            for _ in 0..100 {
                assert!(f(n));
                n += 1;
            }
        }
        wall.push(n as f64 / start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns()) {
            cpu.push(n as f64 / ((b - a) as f64 / 1e9));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    println!(
        "{name:<54} {:>8.0}/s wall-clock, {:>8.0}/s per CPU-second (median of 5)",
        median(&mut wall),
        median(&mut cpu)
    );
}

fn main() {
    let keys: Vec<InstallationKey> = (0..64u8)
        .map(|i| InstallationKey::from_seed([i; 32]))
        .collect();
    let dids: Vec<String> = (0..64).map(|i| format!("did:plc:{i:024}")).collect();
    let sigs: Vec<String> = keys.iter().zip(&dids).map(|(k, d)| k.sign_did(d)).collect();
    let pks: Vec<[u8; 32]> = keys.iter().map(|k| k.public_key()).collect();
    let vks: Vec<ed25519_dalek::VerifyingKey> = pks
        .iter()
        .map(|p| ed25519_dalek::VerifyingKey::from_bytes(p).unwrap())
        .collect();
    let raw: Vec<Vec<u8>> = sigs
        .iter()
        .map(|s| syntax::base64::node_base64_decode(s))
        .collect();
    println!("installation-signature verification, one core:");
    measure("verify_did_signature (base64 + decompress + verify)", |n| {
        let i = n % 64;
        xmtp::verify_did_signature(&dids[i], &sigs[i], &pks[i])
    });
    measure("verify_with_key (cached key, decoded signature)", |n| {
        let i = n % 64;
        verify_with_key(
            dids[i].as_bytes(),
            &raw[i],
            &vks[i],
            PUBLIC_SIGNATURE_CONTEXT,
        )
    });
}
