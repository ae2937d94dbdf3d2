//! The filter against its floor, in the same run: `wire::peek` beside a minimal hand
//! CBOR walk that reads the canonical `#commit` header, then only `ops` (the first key in
//! canonical order) and each op's `path`, and stops: the least any filter must read.
//!
//! Frames: every `#commit` of the seven indigo relay scenario files in
//! `testdata/peers/indigo/cmd/relay/testing/testdata/` (real signed commits,
//! atproto-JSON encoded to canonical wire bytes), held in memory (cache-resident, like a
//! frame just read from the network). Median of interleaved rounds. Also measured: a floor
//! that reads the same fields as `peek` (still without UTF-8 validation), and `peek`'s
//! general walk alone (what `peek` was before its fast path).
//!
//! `cargo bench -p wire --bench filter` (env `FILTER_ROUNDS`, `FILTER_MS`).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

const INBOX_PREFIX: &[u8] = b"org.xmtp.inbox/";
const COMMIT_HEADER: &[u8] = b"\xa2\x61t\x67#commit\x62op\x01";

/// The floor: header pattern, body map head, `ops` with every `path` prefix-checked, stop.
/// Bounds-checked (returns `None` on anything unexpected), no UTF-8 validation, no other
/// field read.
mod floor {
    pub fn head(b: &[u8], pos: &mut usize) -> Option<(u8, u64)> {
        let ib = *b.get(*pos)?;
        *pos += 1;
        let arg = match ib & 0x1f {
            a @ 0..=23 => u64::from(a),
            24 => {
                let v = *b.get(*pos)?;
                *pos += 1;
                u64::from(v)
            }
            25 => {
                let s = b.get(*pos..*pos + 2)?;
                *pos += 2;
                u64::from(u16::from_be_bytes([s[0], s[1]]))
            }
            26 => {
                let s = b.get(*pos..*pos + 4)?;
                *pos += 4;
                u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            }
            _ => return None,
        };
        Some((ib >> 5, arg))
    }

    fn skip(b: &[u8], pos: &mut usize) -> Option<()> {
        let (major, arg) = head(b, pos)?;
        match major {
            0 | 1 | 7 => {}
            2 | 3 => {
                *pos = pos.checked_add(usize::try_from(arg).ok()?)?;
                if *pos > b.len() {
                    return None;
                }
            }
            4 => {
                for _ in 0..arg {
                    skip(b, pos)?;
                }
            }
            5 => {
                for _ in 0..arg {
                    skip(b, pos)?;
                    skip(b, pos)?;
                }
            }
            6 => skip(b, pos)?,
            _ => return None,
        }
        Some(())
    }

    fn text<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
        match head(b, pos)? {
            (3, n) => {
                let s = b.get(*pos..*pos + usize::try_from(n).ok()?)?;
                *pos += s.len();
                Some(s)
            }
            _ => None,
        }
    }

    /// Whether any op path is in `org.xmtp.inbox`.
    pub fn walk(b: &[u8]) -> Option<bool> {
        if !b.starts_with(super::COMMIT_HEADER) {
            return None;
        }
        let mut pos = super::COMMIT_HEADER.len();
        let (5, n) = head(b, &mut pos)? else {
            return None;
        };
        for _ in 0..n {
            if text(b, &mut pos)? != b"ops" {
                skip(b, &mut pos)?;
                continue;
            }
            let (4, n_ops) = head(b, &mut pos)? else {
                return None;
            };
            let mut hit = false;
            for _ in 0..n_ops {
                let (5, m) = head(b, &mut pos)? else {
                    return None;
                };
                for _ in 0..m {
                    if text(b, &mut pos)? == b"path" {
                        hit |= text(b, &mut pos)?.starts_with(super::INBOX_PREFIX);
                    } else {
                        skip(b, &mut pos)?;
                    }
                }
            }
            return Some(hit);
        }
        Some(false)
    }

    /// The floor for the same information as `peek`: the walk goes on after `ops` and
    /// reads `rev`, `seq`, `repo`, `time`, `since` (raw bytes, no UTF-8 validation) until
    /// the routing fields are all read, then stops before `blocks`.
    pub fn walk_fields(b: &[u8]) -> Option<(bool, u64, &[u8], &[u8])> {
        if !b.starts_with(super::COMMIT_HEADER) {
            return None;
        }
        let mut pos = super::COMMIT_HEADER.len();
        let (5, n) = head(b, &mut pos)? else {
            return None;
        };
        let (mut hit, mut seq, mut did, mut rev, mut seen) = (false, 0, &b[..0], &b[..0], 0u8);
        for _ in 0..n {
            match text(b, &mut pos)? {
                b"ops" => {
                    seen |= 1;
                    let (4, n_ops) = head(b, &mut pos)? else {
                        return None;
                    };
                    for _ in 0..n_ops {
                        let (5, m) = head(b, &mut pos)? else {
                            return None;
                        };
                        for _ in 0..m {
                            if text(b, &mut pos)? == b"path" {
                                hit |= text(b, &mut pos)?.starts_with(super::INBOX_PREFIX);
                            } else {
                                skip(b, &mut pos)?;
                            }
                        }
                    }
                }
                b"rev" => {
                    seen |= 2;
                    rev = text(b, &mut pos)?;
                }
                b"seq" => {
                    seen |= 4;
                    let p = pos;
                    skip(b, &mut pos)?;
                    seq = p as u64;
                }
                b"repo" => {
                    seen |= 8;
                    did = text(b, &mut pos)?;
                }
                b"since" => {
                    seen |= 16;
                    skip(b, &mut pos)?;
                }
                _ => skip(b, &mut pos)?,
            }
            if seen == 31 {
                return Some((hit, seq, did, rev));
            }
        }
        None
    }
}

fn frames() -> Vec<Vec<u8>> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/peers/indigo/cmd/relay/testing/testdata"
    );
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("testdata/ vectors missing")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    for p in names {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        for m in v["messages"].as_array().unwrap() {
            let f = &m["frame"];
            if f["header"]["t"] != "#commit" {
                continue;
            }
            let mut b = repo::cbor::json_to_cbor(&f["header"]).unwrap();
            b.extend(repo::cbor::json_to_cbor(&f["body"]).unwrap());
            out.push(b);
        }
    }
    out
}

fn rate(ms: u64, frames: &[Vec<u8>], mut f: impl FnMut(&[u8]) -> bool) -> (f64, u64) {
    let t = Instant::now();
    let (mut n, mut hits) = (0u64, 0u64);
    while t.elapsed() < Duration::from_millis(ms) {
        for _ in 0..100 {
            for b in frames {
                hits += u64::from(f(black_box(b)));
                n += 1;
            }
        }
    }
    (n as f64 / t.elapsed().as_secs_f64(), hits)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rounds = env("FILTER_ROUNDS", 5);
    let ms = env("FILTER_MS", 2000);
    let frames = frames();
    let mean = frames.iter().map(Vec::len).sum::<usize>() as f64 / frames.len() as f64;
    let mut hdr_read = 0usize;
    for b in &frames {
        // Same answer from both (this is what the floor is allowed to skip checking).
        let p = wire::peek(b).unwrap();
        assert_eq!(Some(p.touches_inbox), floor::walk(b));
        hdr_read += b.len();
    }
    println!(
        "{} #commit frames from the indigo relay scenarios, mean {mean:.0} B ({hdr_read} B in all)",
        frames.len()
    );
    let (mut fl, mut ff, mut pk, mut pg) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (f, fh) = rate(ms, &frames, |b| floor::walk(b).unwrap_or(false));
        let (f2, _) = rate(ms, &frames, |b| {
            black_box(floor::walk_fields(b)).is_some_and(|x| x.0)
        });
        let (p, ph) = rate(ms, &frames, |b| {
            wire::peek(b).map(|p| p.touches_inbox).unwrap_or(false)
        });
        let (g, _) = rate(ms, &frames, |b| {
            wire::filter::peek_general(b)
                .map(|p| p.touches_inbox)
                .unwrap_or(false)
        });
        pg.push(g);
        println!(
            "round {r}: general walk (peek before issue 11) {g:>12.0} frames/s | floor {f:>12.0} frames/s | floor, same fields {f2:>12.0} | peek {p:>12.0} frames/s | peek/floor {:.2}, peek/same-fields floor {:.2} (hits {fh}/{ph})",
            p / f,
            p / f2
        );
        fl.push(f);
        ff.push(f2);
        pk.push(p);
    }
    let (f, f2, p, g) = (median(fl), median(ff), median(pk), median(pg));
    println!(
        "median: peek without its fast path (the general walk) {g:.0} frames/s ({:.1} ns): peek/floor {:.2}",
        1e9 / g,
        g / f
    );
    println!(
        "median: floor reading the same fields as peek {f2:.0} frames/s ({:.1} ns): peek/that {:.2}",
        1e9 / f2,
        p / f2
    );
    println!(
        "median: floor {f:.0} frames/s ({:.1} ns), peek {p:.0} frames/s ({:.1} ns), peek/floor {:.2} (target >= 0.50: {})",
        1e9 / f,
        1e9 / p,
        p / f,
        if p / f >= 0.5 { "ok" } else { "MISSED" }
    );
}
