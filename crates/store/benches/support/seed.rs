//! The synthetic identities of the benches: `xrpc`'s `query_load` seeds an index with them,
//! `store`'s `resolve_batch` example asks that index for them, `store`'s `bulk_write`,
//! `firehose`'s `gate_tracked` and `appview`'s restart latency bench write them, so all include this one file (`#[path]`) and cannot drift apart.

/// splitmix64: a fast, well-mixed sequence for DIDs and random picks.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A did:plc-shaped DID (24 base32 characters) for link `i`.
pub fn did_for(i: u64) -> String {
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

/// A real-shaped CIDv1 (dag-cbor, sha2-256) string for link `n`: multibase base32 of 36 bytes.
#[allow(dead_code)]
pub fn cid_for(n: u64) -> String {
    let mut bytes = vec![0x01, 0x71, 0x12, 0x20];
    for k in 0..4 {
        bytes.extend_from_slice(&mix(n * 4 + k).to_be_bytes());
    }
    base32(&bytes)
}

/// A 64-hex-digit inbox ID for link `n`.
#[allow(dead_code)]
pub fn inbox_for(n: u64) -> String {
    format!(
        "{:016x}{:016x}{:016x}{:016x}",
        mix(n),
        mix(n + 1),
        mix(n + 2),
        mix(n + 3)
    )
}

/// `bytes` as multibase base32 (`b` + lower-case RFC 4648, no padding).
#[allow(dead_code)]
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::from("b");
    let (mut acc, mut bits) = (0u32, 0);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(B32[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(B32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}
