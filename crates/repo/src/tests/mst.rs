//! MST tests: interop key heights, common prefixes, example keys, commit-proof inversion
//! fixtures, real repositories, and order-independence of the built tree.

use std::collections::{BTreeSet, HashMap};

use crate::car::{CarLimits, CarSlice};
use crate::cid_util::parse_cid;
use crate::commit::Commit;
use crate::mst::{
    InvertError, Mst, MstError, Op, OpAction, PartialMst, common_prefix_len, empty_root,
    invert_ops, key_height,
};
use crate::test_vectors::{json, read};

#[test]
fn key_heights_match_interop_fixture() {
    let cases = json("atproto-interop-tests/mst/key_heights.json");
    let mut ran = 0;
    for c in cases.as_array().unwrap() {
        assert_eq!(
            key_height(c["key"].as_str().unwrap().as_bytes()),
            c["height"].as_u64().unwrap() as u32,
            "{c}"
        );
        ran += 1;
    }
    assert_eq!(ran, 9);
}

#[test]
fn common_prefix_matches_interop_fixture() {
    let cases = json("atproto-interop-tests/mst/common_prefix.json");
    let mut ran = 0;
    for c in cases.as_array().unwrap() {
        let (l, r) = (c["left"].as_str().unwrap(), c["right"].as_str().unwrap());
        assert_eq!(
            common_prefix_len(l.as_bytes(), r.as_bytes()),
            c["len"].as_u64().unwrap() as usize,
            "{c}"
        );
        ran += 1;
    }
    assert_eq!(ran, 13);
}

#[test]
fn example_keys_have_the_height_their_name_says() {
    let text = String::from_utf8(read("atproto-interop-tests/mst/example_keys.txt")).unwrap();
    let mut ran = 0;
    for key in text.lines().filter(|l| !l.is_empty()) {
        let expected: u32 = key[1..2].parse().unwrap();
        assert_eq!(key_height(key.as_bytes()), expected, "{key}");
        ran += 1;
    }
    assert_eq!(ran, 156);
}

fn fixture_ops<'a>(case: &'a serde_json::Value, leaf: cid::Cid) -> Vec<Op<'a>> {
    let mut ops = Vec::new();
    for k in case["adds"].as_array().unwrap() {
        ops.push(Op {
            action: OpAction::Create,
            path: k.as_str().unwrap(),
            cid: Some(leaf),
            prev: None,
        });
    }
    for k in case["dels"].as_array().unwrap() {
        ops.push(Op {
            action: OpAction::Delete,
            path: k.as_str().unwrap(),
            cid: None,
            prev: Some(leaf),
        });
    }
    ops
}

#[test]
fn commit_proof_fixtures_build_apply_and_invert() {
    let cases = json("atproto-interop-tests/firehose/commit-proof-fixtures.json");
    let mut ran = 0;
    for case in cases.as_array().unwrap() {
        let name = case["comment"].as_str().unwrap();
        let leaf = parse_cid(case["leafValue"].as_str().unwrap()).unwrap();
        let before = parse_cid(case["rootBeforeCommit"].as_str().unwrap()).unwrap();
        let after = parse_cid(case["rootAfterCommit"].as_str().unwrap()).unwrap();
        let mut old = Mst::new();
        for k in case["keys"].as_array().unwrap() {
            old.insert(k.as_str().unwrap(), leaf);
        }
        assert_eq!(old.root(), before, "{name}: root before");
        let mut new = old.clone();
        for k in case["adds"].as_array().unwrap() {
            assert_eq!(new.insert(k.as_str().unwrap(), leaf), None);
        }
        for k in case["dels"].as_array().unwrap() {
            assert_eq!(new.delete(k.as_str().unwrap()), Some(leaf));
        }
        assert_eq!(new.root(), after, "{name}: root after");

        // Invert using only the proof blocks the fixture lists.
        let all: HashMap<_, _> = new.blocks().into_iter().collect();
        let proof_cids: BTreeSet<cid::Cid> = case["blocksInProof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| parse_cid(c.as_str().unwrap()).unwrap())
            .collect();
        let proof: HashMap<_, _> = proof_cids.iter().map(|c| (*c, all[c].clone())).collect();
        let ops = fixture_ops(case, leaf);
        let mut partial = PartialMst::load(after, &proof).unwrap();
        assert_eq!(
            invert_ops(&mut partial, &ops).unwrap(),
            before,
            "{name}: inversion"
        );

        // What our devnet would ship is exactly the reference proof set.
        let ours: BTreeSet<cid::Cid> = new
            .commit_proof_blocks(&mut old, &ops)
            .unwrap()
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(proof_cids, ours, "{name}: proof differs from the reference");
        let ours_map: HashMap<_, _> = ours.iter().map(|c| (*c, all[c].clone())).collect();
        let mut partial = PartialMst::load(after, &ours_map).unwrap();
        assert_eq!(invert_ops(&mut partial, &ops).unwrap(), before);
        ran += 1;
    }
    assert_eq!(ran, 6);
}

#[test]
fn missing_proof_block_makes_inversion_unprovable() {
    let cases = json("atproto-interop-tests/firehose/commit-proof-fixtures.json");
    let case = &cases[0];
    let leaf = parse_cid(case["leafValue"].as_str().unwrap()).unwrap();
    let after = parse_cid(case["rootAfterCommit"].as_str().unwrap()).unwrap();
    let mut new = Mst::new();
    for k in case["keys"]
        .as_array()
        .unwrap()
        .iter()
        .chain(case["adds"].as_array().unwrap())
    {
        new.insert(k.as_str().unwrap(), leaf);
    }
    let all: HashMap<_, _> = new.blocks().into_iter().collect();
    // Only the root: every deeper node is missing.
    let only_root: HashMap<_, _> = [(after, all[&after].clone())].into_iter().collect();
    let mut partial = PartialMst::load(after, &only_root).unwrap();
    let err = invert_ops(&mut partial, &fixture_ops(case, leaf)).unwrap_err();
    assert!(
        matches!(err, InvertError::Mst(MstError::MissingBlock(_))),
        "{err:?}"
    );
}

#[test]
fn ops_that_disagree_with_the_tree_are_rejected() {
    let leaf = crate::cid_util::cid_for_cbor(b"leaf");
    let other = crate::cid_util::cid_for_cbor(b"other");
    let mut m = Mst::new();
    for i in 0..50 {
        m.insert(&format!("app.bsky.feed.post/{i:04}"), leaf);
    }
    let root = m.root();
    let all: HashMap<_, _> = m.blocks().into_iter().collect();
    let cases = [
        (
            Op {
                action: OpAction::Create,
                path: "app.bsky.feed.post/0001",
                cid: Some(other),
                prev: None,
            },
            "Mismatch",
        ),
        (
            Op {
                action: OpAction::Delete,
                path: "app.bsky.feed.post/0001",
                cid: None,
                prev: Some(leaf),
            },
            "Mismatch",
        ),
        (
            Op {
                action: OpAction::Update,
                path: "app.bsky.feed.post/0001",
                cid: Some(leaf),
                prev: None,
            },
            "MissingPrev",
        ),
        (
            Op {
                action: OpAction::Create,
                path: "app.bsky.feed.post/0001",
                cid: Some(leaf),
                prev: Some(leaf),
            },
            "MalformedOp",
        ),
        (
            Op {
                action: OpAction::Delete,
                path: "app.bsky.feed.post/9999",
                cid: Some(leaf),
                prev: Some(leaf),
            },
            "MalformedOp",
        ),
    ];
    for (op, want) in cases {
        let mut p = PartialMst::load(root, &all).unwrap();
        let err = invert_ops(&mut p, &[op]).unwrap_err();
        assert!(format!("{err:?}").starts_with(want), "{op:?}: {err:?}");
    }
    let op = Op {
        action: OpAction::Create,
        path: "app.bsky.feed.post/0001",
        cid: Some(leaf),
        prev: None,
    };
    let mut p = PartialMst::load(root, &all).unwrap();
    assert!(matches!(
        invert_ops(&mut p, &[op, op]),
        Err(InvertError::DuplicatePath(_))
    ));
}

#[test]
fn tree_shape_is_independent_of_insertion_order_and_deletes_restore_roots() {
    let leaf = crate::cid_util::cid_for_cbor(b"leaf");
    let text = String::from_utf8(read("atproto-interop-tests/mst/example_keys.txt")).unwrap();
    let keys: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let mut fwd = Mst::new();
    let mut roots = vec![fwd.root()];
    for k in &keys {
        fwd.insert(k, leaf);
        roots.push(fwd.root());
    }
    let mut rev = Mst::new();
    for k in keys.iter().rev() {
        rev.insert(k, leaf);
    }
    // A pseudo-random order too.
    let mut shuffled = keys.clone();
    let mut x: u64 = 12345;
    for i in (1..shuffled.len()).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        shuffled.swap(i, (x >> 33) as usize % (i + 1));
    }
    let mut shuf = Mst::new();
    for k in &shuffled {
        shuf.insert(k, leaf);
    }
    assert_eq!(fwd.root(), rev.root());
    assert_eq!(fwd.root(), shuf.root());
    assert_eq!(fwd.entries().len(), 156);
    for k in &keys {
        assert_eq!(shuf.get(k), Some(leaf));
    }
    // Deleting in reverse insertion order walks back through every earlier root.
    for (i, k) in keys.iter().enumerate().rev() {
        assert_eq!(fwd.delete(k), Some(leaf));
        assert_eq!(fwd.root(), roots[i], "after deleting {k}");
    }
    assert_eq!(fwd.root(), empty_root());
}

#[test]
fn real_repo_mst_loads_and_rehashes_to_the_commit_data() {
    let car = read("peers/rsky/rsky-repo/resources/test/valid_repo.car");
    let slice = CarSlice::parse(&car, &CarLimits::REPO).unwrap();
    let commit = Commit::decode(slice.get(&slice.roots()[0]).unwrap()).unwrap();
    let mut mst = Mst::load_all(commit.data, &slice).unwrap();
    let entries = mst.entries();
    assert!(!entries.is_empty());
    // Rebuild from scratch: same root.
    let mut rebuilt = Mst::new();
    for (k, v) in &entries {
        rebuilt.insert(k, *v);
    }
    assert_eq!(rebuilt.root(), commit.data);
    assert_eq!(mst.root(), commit.data);
    let mut partial = PartialMst::load(commit.data, &slice).unwrap();
    for (k, v) in &entries {
        assert_eq!(partial.get(k).unwrap(), Some(*v));
        let mut proof_only: HashMap<_, _> = HashMap::new();
        for (c, b) in mst.proof_blocks(k) {
            proof_only.insert(c, b);
        }
        assert_eq!(
            PartialMst::load(commit.data, &proof_only)
                .unwrap()
                .get(k)
                .unwrap(),
            Some(*v)
        );
    }
    assert_eq!(
        partial.get("app.bsky.feed.post/zzzzzzzzzzzzz").unwrap(),
        None
    );
}

/// Malicious trees can have any shape with valid hashes, so feed the tree code mutated node
/// blocks directly (bypassing the hash check): it must return errors, never panic or loop.
#[test]
fn mutated_node_blocks_never_panic_the_tree_code() {
    let leaf = crate::cid_util::cid_for_cbor(b"leaf");
    let text = String::from_utf8(read("atproto-interop-tests/mst/example_keys.txt")).unwrap();
    let keys: Vec<&str> = text.lines().filter(|l| !l.is_empty()).take(60).collect();
    let mut m = Mst::new();
    for k in &keys {
        m.insert(k, leaf);
    }
    let root = m.root();
    let blocks: Vec<(cid::Cid, Vec<u8>)> = m.blocks();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut errors = 0;
    for _ in 0..1000 {
        let mut src: HashMap<cid::Cid, Vec<u8>> = blocks.iter().cloned().collect();
        let (victim, bytes) = &blocks[next() as usize % blocks.len()];
        let mut bad = bytes.clone();
        match next() % 3 {
            0 => {
                let i = next() as usize % bad.len();
                bad[i] = next() as u8;
            }
            1 => bad.truncate(next() as usize % bad.len()),
            _ => {
                // Swap in another node's bytes: a structurally valid node in the wrong place.
                bad = blocks[next() as usize % blocks.len()].1.clone();
            }
        }
        src.insert(*victim, bad);
        let Ok(mut p) = PartialMst::load(root, &src) else {
            errors += 1;
            continue;
        };
        for k in keys.iter().step_by(7) {
            errors += usize::from(p.get(k).is_err());
        }
        let ops = [
            Op {
                action: OpAction::Create,
                path: keys[3],
                cid: Some(leaf),
                prev: None,
            },
            Op {
                action: OpAction::Delete,
                path: "Z0/000000",
                cid: None,
                prev: Some(leaf),
            },
        ];
        errors += usize::from(invert_ops(&mut p, &ops).is_err());
    }
    assert!(errors > 30, "mutations are detected ({errors})");
}

#[test]
fn partial_trees_and_builders_are_send() {
    fn is_send<T: Send>() {}
    is_send::<PartialMst<'static>>();
    is_send::<Mst>();
    is_send::<crate::verify::VerifiedCommit<'static>>();
}

/// Found by the `mst` fuzz target: node blocks that decode to a valid node but are not its
/// canonical encoding gave one tree several CIDs. They are now invalid, with a reason.
#[test]
fn non_canonical_node_encodings_are_invalid() {
    use crate::cbor::Encoder;
    use crate::cid_util::cid_for_cbor;
    let leaf = cid_for_cbor(b"\xa0");
    let canonical_empty = {
        let mut e = Encoder::new();
        e.map(2).text("e").array(0).text("l").null();
        e.into_bytes()
    };
    // The fuzzer's input: `{"e": [], "=": <link>}` (no `l`, an unknown key).
    let fuzzed = hex::decode(concat!(
        "a2616580613dd82a582500017112207ce24c862a5080e209",
        "e2532698e853d9770fe13b4f5352f795c97ae50bce9701"
    ))
    .unwrap();
    let no_l = {
        let mut e = Encoder::new();
        e.map(1).text("e").array(0);
        e.into_bytes()
    };
    let entry = |e: &mut Encoder, k: &[u8], p: u64| {
        e.map(4).text("k").bytes(k).text("p").uint(p);
        e.text("t").null().text("v").link(&leaf);
    };
    // Two keys sharing "app/" but the second one's prefix length says 0.
    let short_prefix = {
        let mut e = Encoder::new();
        e.map(2).text("e").array(2);
        entry(&mut e, b"app/a", 0);
        entry(&mut e, b"app/b", 0);
        e.text("l").null();
        e.into_bytes()
    };
    let mut src: HashMap<cid::Cid, Vec<u8>> = HashMap::new();
    let root = cid_for_cbor(&canonical_empty);
    src.insert(root, canonical_empty);
    assert!(
        PartialMst::load(root, &src).is_ok(),
        "the canonical node loads"
    );
    for block in [fuzzed, no_l, short_prefix] {
        let cid = cid_for_cbor(&block);
        src.insert(cid, block);
        let err = PartialMst::load(cid, &src).unwrap_err();
        assert_eq!(err, MstError::InvalidNode(Box::new(cid), "not canonical"));
        assert!(Mst::load_all(cid, &src).is_err());
    }
}
