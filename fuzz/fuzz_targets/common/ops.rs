#![allow(dead_code)] // each target uses a part of this module
//! The text form of a commit's ops shared by the `commit` and `mst` targets, so seeds stay
//! readable and the fuzzer can mutate paths and CIDs independently of the blocks.
//!
//! One op per line: `<action> <path> <cid|-> <prev|->`; a line `prevData <cid>` gives the
//! root the inversion must reach. Lines that do not parse are skipped (the targets fuzz the
//! repo crate, not this format).

use repo::{Cid, Op, OpAction};

/// Ops and `prevData` parsed from the text part of an input.
pub struct Ops {
    /// `(action, path, cid, prev)` with owned paths.
    pub ops: Vec<(OpAction, String, Option<Cid>, Option<Cid>)>,
    /// The expected root before the commit, when given.
    pub prev_data: Option<Cid>,
}

fn cid(tok: Option<&str>) -> Option<Cid> {
    tok.filter(|t| *t != "-")
        .and_then(|t| repo::parse_cid(t).ok())
}

impl Ops {
    /// Parses the text part (lossily: bytes that are not UTF-8 are replaced).
    pub fn parse(text: &[u8]) -> Ops {
        let text = String::from_utf8_lossy(text);
        let mut ops = Vec::new();
        let mut prev_data = None;
        for line in text.lines().take(256) {
            let mut it = line.split(' ');
            match it.next() {
                Some("prevData") => prev_data = cid(it.next()),
                Some(a) => {
                    let Some(action) = OpAction::parse(a) else {
                        continue;
                    };
                    let Some(path) = it.next() else { continue };
                    ops.push((action, path.to_owned(), cid(it.next()), cid(it.next())));
                }
                None => {}
            }
        }
        Ops { ops, prev_data }
    }

    /// The borrowed ops the repo crate takes.
    pub fn view(&self) -> Vec<Op<'_>> {
        self.ops
            .iter()
            .map(|(action, path, cid, prev)| Op {
                action: *action,
                path,
                cid: *cid,
                prev: *prev,
            })
            .collect()
    }
}

/// Splits `[u32 LE n][n bytes][rest]`; `None` when the length does not fit.
pub fn split_prefixed(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<4>()?;
    let n = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    (n <= rest.len()).then(|| rest.split_at(n))
}

/// The K-256 key the seed generator signs its commits with, so mutated inputs that keep the
/// commit block intact reach the checks behind the signature (`fuzz/seeds` uses the same).
pub const TEST_SIGNING_KEY: [u8; 32] = [0x42; 32];
