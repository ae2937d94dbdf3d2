//! The PDS side of the Merkle Search Tree: rebuilds the canonical tree of a repo's
//! `collection/rkey → record CID` map (fanout 4: a key's layer is half the number of
//! leading zero bits of its SHA-256) and answers which nodes lie on a key's search path.
//!
//! A full rebuild per commit keeps the code obviously canonical; devnet repos are small.
//! Consumers check these trees with the independent implementation in the `repo` crate.

use std::collections::{BTreeMap, HashMap};

use cid::Cid;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::atmosphere::error::AtmosphereError;
use repo::cid_for_cbor as block_cid;

/// The MST layer of a key: leading zero bits of SHA-256(key), divided by two.
pub(crate) fn key_layer(key: &str) -> u32 {
    let digest = Sha256::digest(key.as_bytes());
    let mut zeros = 0;
    for byte in digest {
        if byte == 0 {
            zeros += 8;
        } else {
            zeros += byte.leading_zeros();
            break;
        }
    }
    zeros / 2
}

#[derive(Serialize)]
struct EntryData {
    k: serde_bytes::ByteBuf,
    p: u64,
    t: Option<Cid>,
    v: Cid,
}

#[derive(Serialize)]
struct NodeData {
    e: Vec<EntryData>,
    l: Option<Cid>,
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: Cid,
    right: Option<Box<Node>>,
}

#[derive(Debug, Clone)]
struct Node {
    cid: Cid,
    left: Option<Box<Node>>,
    entries: Vec<Entry>,
}

/// A built tree: its root, every node block, and the shape for path queries.
#[derive(Debug, Clone)]
pub(crate) struct Mst {
    root: Node,
    nodes: HashMap<Cid, Vec<u8>>,
}

struct Item<'a> {
    key: &'a str,
    layer: u32,
    value: Cid,
}

impl Mst {
    /// Builds the canonical tree of `records`.
    pub(crate) fn build(records: &BTreeMap<String, Cid>) -> Result<Mst, AtmosphereError> {
        let items: Vec<Item<'_>> = records
            .iter()
            .map(|(key, value)| Item {
                key,
                layer: key_layer(key),
                value: *value,
            })
            .collect();
        let top = items.iter().map(|item| item.layer).max().unwrap_or(0);
        let mut nodes = HashMap::new();
        let root = build_node(&items, top, &mut nodes)?;
        Ok(Mst { root, nodes })
    }

    /// CID of the root node (the commit's `data`).
    pub(crate) fn root(&self) -> Cid {
        self.root.cid
    }

    /// Every node block.
    pub(crate) fn nodes(&self) -> &HashMap<Cid, Vec<u8>> {
        &self.nodes
    }

    /// Appends the CIDs of the nodes on `key`'s search path, from the root down to the node
    /// holding it, or down to the empty pointer where it would be (proof of absence).
    pub(crate) fn search_path(&self, key: &str, out: &mut Vec<Cid>) {
        let mut node = &self.root;
        loop {
            out.push(node.cid);
            let index = node
                .entries
                .partition_point(|entry| entry.key.as_str() < key);
            if node
                .entries
                .get(index)
                .is_some_and(|entry| entry.key == key)
            {
                return;
            }
            let child = if index == 0 {
                node.left.as_deref()
            } else {
                node.entries[index - 1].right.as_deref()
            };
            match child {
                Some(child) => node = child,
                None => return,
            }
        }
    }
}

/// Appends the search paths of `path` and of its neighbours in `index` (the tree's keys):
/// what a consumer needs to prove `path` present or absent, and to invert an op on it.
pub(crate) fn covering_paths(
    mst: &Mst,
    index: &BTreeMap<String, Cid>,
    path: &str,
    out: &mut Vec<Cid>,
) {
    mst.search_path(path, out);
    let before = index
        .range::<str, _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(path)))
        .next_back();
    if let Some((before, _)) = before {
        mst.search_path(before, out);
    }
    let after = index
        .range::<str, _>((std::ops::Bound::Excluded(path), std::ops::Bound::Unbounded))
        .next();
    if let Some((after, _)) = after {
        mst.search_path(after, out);
    }
}

/// The MST nodes of a Sync 1.1 commit diff from `old` to `new` (whose keys are `index`):
/// the root (always, so that even an empty commit can be loaded), every node new in this
/// tree, and the nodes covering each op's path, so that a consumer can invert the ops
/// without holding the repo. No duplicates.
pub(crate) fn diff_nodes(
    old: &Mst,
    new: &Mst,
    index: &BTreeMap<String, Cid>,
    op_paths: &[&str],
) -> Vec<Cid> {
    let mut cids = vec![new.root()];
    cids.extend(
        new.nodes()
            .keys()
            .filter(|cid| !old.nodes().contains_key(cid))
            .copied(),
    );
    for path in op_paths {
        covering_paths(new, index, path, &mut cids);
    }
    let mut seen = std::collections::HashSet::new();
    cids.retain(|cid| seen.insert(*cid));
    cids
}

fn build_node(
    items: &[Item<'_>],
    layer: u32,
    nodes: &mut HashMap<Cid, Vec<u8>>,
) -> Result<Node, AtmosphereError> {
    let mut left = None;
    let mut entries: Vec<Entry> = Vec::new();
    let mut segment_start = 0;
    for (index, item) in items.iter().enumerate() {
        if item.layer == layer {
            let subtree = build_subtree(&items[segment_start..index], layer, nodes)?;
            match entries.last_mut() {
                Some(previous) => previous.right = subtree,
                None => left = subtree,
            }
            entries.push(Entry {
                key: item.key.to_owned(),
                value: item.value,
                right: None,
            });
            segment_start = index + 1;
        }
    }
    let subtree = build_subtree(&items[segment_start..], layer, nodes)?;
    match entries.last_mut() {
        Some(previous) => previous.right = subtree,
        None => left = subtree,
    }
    let data = encode_node(left.as_deref(), &entries);
    let bytes = serde_ipld_dagcbor::to_vec(&data)
        .map_err(|error| AtmosphereError::Repo(format!("MST node: {error}")))?;
    let cid = block_cid(&bytes);
    nodes.insert(cid, bytes);
    Ok(Node { cid, left, entries })
}

fn build_subtree(
    items: &[Item<'_>],
    layer: u32,
    nodes: &mut HashMap<Cid, Vec<u8>>,
) -> Result<Option<Box<Node>>, AtmosphereError> {
    if items.is_empty() || layer == 0 {
        return Ok(None);
    }
    Ok(Some(Box::new(build_node(items, layer - 1, nodes)?)))
}

fn encode_node(left: Option<&Node>, entries: &[Entry]) -> NodeData {
    let mut previous: &[u8] = &[];
    let e = entries
        .iter()
        .map(|entry| {
            let key = entry.key.as_bytes();
            let prefix = previous.iter().zip(key).take_while(|(a, b)| a == b).count();
            previous = key;
            EntryData {
                k: serde_bytes::ByteBuf::from(key[prefix..].to_vec()),
                p: prefix as u64,
                t: entry.right.as_ref().map(|node| node.cid),
                v: entry.value,
            }
        })
        .collect();
    NodeData {
        e,
        l: left.map(|node| node.cid),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The empty tree is one node `{e: [], l: null}` (a well-known CID).
    #[test]
    fn empty_tree_has_the_well_known_root() {
        let mst = Mst::build(&BTreeMap::new()).unwrap();
        assert_eq!(
            mst.root().to_string(),
            "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
        );
    }

    #[test]
    fn layers_match_the_spec_examples() {
        assert_eq!(key_layer("2653ae71"), 0);
        assert_eq!(key_layer("blue"), 1);
        assert_eq!(key_layer("app.bsky.feed.post/454397e440ec"), 4);
        assert_eq!(key_layer("app.bsky.feed.post/9adeb165882c"), 8);
    }

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/atproto-interop-tests/firehose/commit-proof-fixtures.json"
    );

    fn tree(keys: &[serde_json::Value], leaf: Cid) -> (Mst, BTreeMap<String, Cid>) {
        let index: BTreeMap<String, Cid> = keys
            .iter()
            .map(|key| (key.as_str().unwrap().to_owned(), leaf))
            .collect();
        (Mst::build(&index).unwrap(), index)
    }

    /// Every case of the interop commit-proof fixtures: both roots match, and the diff holds
    /// every block the reference proof needs.
    #[test]
    fn commit_proof_fixtures_roots_and_proof_blocks_match() {
        let text = std::fs::read_to_string(FIXTURES)
            .unwrap_or_else(|error| panic!("shared vectors missing at {FIXTURES}: {error}"));
        let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let mut run = 0;
        for case in &cases {
            let name = case["comment"].as_str().unwrap();
            let leaf: Cid = case["leafValue"].as_str().unwrap().parse().unwrap();
            let keys = case["keys"].as_array().unwrap();
            let (before, _) = tree(keys, leaf);
            assert_eq!(
                before.root().to_string(),
                case["rootBeforeCommit"],
                "{name}"
            );
            let mut after_keys: BTreeMap<String, Cid> = keys
                .iter()
                .map(|key| (key.as_str().unwrap().to_owned(), leaf))
                .collect();
            let mut op_paths = Vec::new();
            for add in case["adds"].as_array().unwrap() {
                after_keys.insert(add.as_str().unwrap().to_owned(), leaf);
                op_paths.push(add.as_str().unwrap());
            }
            for del in case["dels"].as_array().unwrap() {
                after_keys.remove(del.as_str().unwrap());
                op_paths.push(del.as_str().unwrap());
            }
            let after = Mst::build(&after_keys).unwrap();
            assert_eq!(after.root().to_string(), case["rootAfterCommit"], "{name}");
            let diff = diff_nodes(&before, &after, &after_keys, &op_paths);
            for block in case["blocksInProof"].as_array().unwrap() {
                let cid: Cid = block.as_str().unwrap().parse().unwrap();
                assert!(
                    diff.contains(&cid),
                    "{name}: proof block {cid} missing from the diff"
                );
            }
            run += 1;
        }
        assert_eq!(run, 6);
    }

    #[test]
    fn every_key_has_a_search_path_from_the_root() {
        let cid = block_cid(b"record");
        let records: BTreeMap<String, Cid> = (0..200)
            .map(|i| (format!("app.bsky.feed.post/{i:06}"), cid))
            .collect();
        let mst = Mst::build(&records).unwrap();
        for key in records.keys() {
            let mut path = Vec::new();
            mst.search_path(key, &mut path);
            assert_eq!(path[0], mst.root());
            assert!(path.iter().all(|cid| mst.nodes().contains_key(cid)));
        }
    }
}
