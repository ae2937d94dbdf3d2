//! MST loading, lookups and Sync 1.1 inversion over blocks whose CIDs the target computes
//! itself, so mutated nodes stay addressable (a CAR would fail its hash check first) and the
//! fuzzer reaches node decoding, key compression and the tree rebuild.
//!
//! Input: `[u32 LE ops length][ops text][blocks]`, blocks as `[u16 LE length][bytes]`; the
//! first block is the root.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use repo::{Cid, PartialMst, mst::invert_ops};

#[path = "common/ops.rs"]
mod ops;

fuzz_target!(|data: &[u8]| {
    let Some((text, mut rest)) = ops::split_prefixed(data) else {
        return;
    };
    let parsed = ops::Ops::parse(text);
    let ops = parsed.view();
    let mut blocks: HashMap<Cid, Vec<u8>> = HashMap::new();
    let mut root = None;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let n = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (block, tail) = tail.split_at(n);
        let cid = repo::cid_for_cbor(block);
        root.get_or_insert(cid);
        blocks.insert(cid, block.to_vec());
        rest = tail;
    }
    let Some(root) = root else { return };
    if let Ok(mut tree) = PartialMst::load(root, &blocks) {
        for op in &ops {
            let _ = tree.get(op.path);
        }
    }
    if let Ok(mut tree) = PartialMst::load(root, &blocks) {
        let _ = invert_ops(&mut tree, &ops);
    }
    // A tree that loads completely must re-encode to the root it was loaded from.
    if let Ok(mut full) = repo::Mst::load_all(root, &blocks) {
        let _ = full.entries();
        assert_eq!(
            full.root(),
            root,
            "a loaded tree re-encodes to another root"
        );
    }
});
