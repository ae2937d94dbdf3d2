//! Commit verification and Sync 1.1 inversion over a `#commit` CAR slice: parse the CAR
//! (blocks hash-checked), decode the commit, check the ops against the MST and invert them,
//! and, when the commit is signed by the seed key, the checks behind the signature
//! (`VerifiedCommit::check_ops` and `invert`) plus the `getRecord` proof reader.
//!
//! Input: `[u32 LE car length][CAR][ops text]` (see `common/ops.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use repo::{CarLimits, CarSlice, Commit, CommitCar, PartialMst, PrivateKey};

#[path = "common/ops.rs"]
mod ops;

fuzz_target!(|data: &[u8]| {
    let Some((car, text)) = ops::split_prefixed(data) else {
        return;
    };
    let parsed = ops::Ops::parse(text);
    let ops = parsed.view();
    let Ok(slice) = CarSlice::parse(car, &CarLimits::COMMIT) else {
        return;
    };
    let Some(root) = slice.roots().first().copied() else {
        return;
    };
    let Some(commit) = slice.get(&root).and_then(|b| Commit::decode(b).ok()) else {
        return;
    };
    // The message's did and rev agree with the commit here; the mismatch paths are
    // covered by the frame target.
    let cc = CommitCar::parse(car, &root, &commit.did, &commit.rev)
        .unwrap_or_else(|e| panic!("a CAR that parsed and decoded must pass CommitCar: {e}"));
    let inverted = cc.inverted_root(&ops);
    if let Ok(mut tree) = PartialMst::load(commit.data, &slice) {
        for op in &ops {
            let _ = tree.get(op.path);
        }
    }
    let Ok(key) = PrivateKey::from_bytes(repo::Curve::K256, &ops::TEST_SIGNING_KEY) else {
        return;
    };
    let key = key.public_key();
    if let Ok(verified) = cc.verified(&key) {
        let _ = verified.check_ops(&ops);
        if let Some(prev) = parsed.prev_data {
            let again = verified.invert(&ops, &prev);
            // Inversion is deterministic: the verified path agrees with the unverified one.
            assert_eq!(again.is_ok(), inverted.as_ref().is_ok_and(|c| *c == prev));
        }
        // Each proof check verifies the signature again: two are enough to reach the reader.
        for op in ops.iter().take(2) {
            if let Some((collection, rkey)) = op.path.split_once('/') {
                let _ = repo::verify_record_proof(car, &commit.did, collection, rkey, &key);
            }
        }
    }
});
