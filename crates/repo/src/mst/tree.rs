//! The MST as a tree of lazily loaded nodes: lookup, insert, delete (with split/merge), and
//! root CID computation with per-node caching. Nodes not yet needed stay as CID stubs, so
//! the same code serves the fully in-memory devnet tree and a partial tree over a CAR slice.

use cid::Cid;

use super::key::Key;
use super::node::{RawNode, decode_node, encode_node, key_height};
use super::{BlockSource, MstError};
use crate::cid_util::cid_for_cbor;

/// A subtree pointer.
#[derive(Debug, Clone, Default)]
pub(crate) enum Child {
    /// No subtree.
    #[default]
    Empty,
    /// A subtree known only by CID (not loaded yet).
    Stub(Cid),
    /// A loaded subtree.
    Node(Box<Node>),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub left: Child,
    pub entries: Vec<Entry>,
    /// Cached CID; `None` when the node was modified since it was last hashed.
    pub cid: Option<Cid>,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: Key,
    pub val: Cid,
    pub right: Child,
}

/// Where loads come from, and which blocks were read (for building proofs).
pub(crate) struct Ctx<'s> {
    pub src: &'s dyn BlockSource,
    pub reads: Option<Vec<Cid>>,
}

impl Ctx<'_> {
    fn fetch(&mut self, cid: &Cid, layer: u32) -> Result<Node, MstError> {
        let block = self
            .src
            .get_block(cid)
            .ok_or(MstError::MissingBlock(Box::new(*cid)))?;
        if let Some(reads) = &mut self.reads {
            reads.push(*cid);
        }
        let raw = decode_node(cid, block)?;
        node_from_raw(cid, raw, Some(layer)).map(|(node, _)| node)
    }
}

/// Builds a node from a decoded block, checking every key is at `layer` (when known; else
/// the first key's) and that layer-0 nodes have no subtrees. Gives the node and its layer.
pub(crate) fn node_from_raw(
    cid: &Cid,
    raw: RawNode,
    layer: Option<u32>,
) -> Result<(Node, u32), MstError> {
    // Each key is hashed once: the first one fixes the layer when it is not known.
    let (layer, checked) = match (layer, raw.entries.first()) {
        (Some(l), _) => (l, 0),
        (None, Some(e)) => (key_height(&e.key), 1),
        (None, None) => (0, 0),
    };
    for e in &raw.entries[checked..] {
        if key_height(&e.key) != layer {
            return Err(MstError::InvalidNode(Box::new(*cid), "key at wrong layer"));
        }
    }
    let has_subtree = raw.left.is_some() || raw.entries.iter().any(|e| e.right.is_some());
    if layer == 0 && has_subtree {
        return Err(MstError::InvalidNode(
            Box::new(*cid),
            "subtree below layer 0",
        ));
    }
    let stub = |c: Option<Cid>| c.map_or(Child::Empty, Child::Stub);
    let node = Node {
        left: stub(raw.left),
        entries: raw
            .entries
            .into_iter()
            .map(|e| Entry {
                key: e.key,
                val: e.val,
                right: stub(e.right),
            })
            .collect(),
        cid: Some(*cid),
    };
    Ok((node, layer))
}

impl Child {
    /// Loads a stub in place and returns the node (None for an empty subtree).
    fn load(&mut self, layer: u32, ctx: &mut Ctx<'_>) -> Result<Option<&mut Node>, MstError> {
        if let Child::Stub(cid) = self {
            let node = ctx.fetch(cid, layer)?;
            *self = Child::Node(Box::new(node));
        }
        match self {
            Child::Node(n) => Ok(Some(n)),
            _ => Ok(None),
        }
    }

    /// Replaces an entry-less, subtree-less node by `Empty`.
    fn normalize(&mut self) {
        if let Child::Node(n) = self
            && n.entries.is_empty()
            && matches!(n.left, Child::Empty)
        {
            *self = Child::Empty;
        }
    }

    /// The CID of this subtree if known without hashing (a dirty node gives `None`).
    fn cached_cid(&self) -> Option<Cid> {
        match self {
            Child::Empty => None,
            Child::Stub(c) => Some(*c),
            Child::Node(n) => n.cid,
        }
    }

    /// The CID of this subtree, hashing dirty nodes (children first) and caching results.
    pub fn cid(&mut self) -> Option<Cid> {
        match self {
            Child::Empty => None,
            Child::Stub(c) => Some(*c),
            Child::Node(n) => Some(n.cid()),
        }
    }
}

impl Node {
    pub fn cid(&mut self) -> Cid {
        if let Some(c) = self.cid {
            return c;
        }
        let block = self.encode();
        let cid = cid_for_cbor(&block);
        self.cid = Some(cid);
        cid
    }

    /// Canonical bytes of this node (hashes children as needed).
    pub fn encode(&mut self) -> Vec<u8> {
        // Hash the subtrees first (caching their CIDs), then encode without allocating.
        let left = self.left.cid();
        for e in &mut self.entries {
            e.right.cid();
        }
        encode_node(
            left.as_ref(),
            self.entries
                .iter()
                .map(|e| (e.key.as_slice(), &e.val, e.right.cached_cid())),
        )
    }

    /// Index of the first entry whose key is greater than or equal to `key`.
    fn lower_bound(&self, key: &[u8]) -> usize {
        self.entries.partition_point(|e| e.key.as_slice() < key)
    }

    /// The subtree pointer just before entry `idx` (left of the node when idx = 0).
    fn ptr(&mut self, idx: usize) -> &mut Child {
        if idx == 0 {
            &mut self.left
        } else {
            &mut self.entries[idx - 1].right
        }
    }

    fn last_ptr(&mut self) -> &mut Child {
        let n = self.entries.len();
        self.ptr(n)
    }
}

/// Looks `key` up in the subtree at `layer`. `lo`/`hi` are exclusive bounds the subtree's
/// keys must respect (checked, so a malformed tree cannot hide a key).
pub(crate) fn get(
    child: &mut Child,
    layer: u32,
    key: &[u8],
    height: u32,
    bounds: (Option<&[u8]>, Option<&[u8]>),
    ctx: &mut Ctx<'_>,
) -> Result<Option<Cid>, MstError> {
    let Some(node) = child.load(layer, ctx)? else {
        return Ok(None);
    };
    let (lo, hi) = bounds;
    if let (Some(first), Some(lo)) = (node.entries.first(), lo)
        && first.key.as_slice() <= lo
    {
        return Err(MstError::InvalidNode(
            Box::new(node.cid.unwrap_or_default()),
            "key out of subtree range",
        ));
    }
    if let (Some(last), Some(hi)) = (node.entries.last(), hi)
        && last.key.as_slice() >= hi
    {
        return Err(MstError::InvalidNode(
            Box::new(node.cid.unwrap_or_default()),
            "key out of subtree range",
        ));
    }
    let idx = node.lower_bound(key);
    if height == layer {
        return Ok(node
            .entries
            .get(idx)
            .filter(|e| e.key == key)
            .map(|e| e.val));
    }
    if height > layer || layer == 0 {
        return Ok(None);
    }
    // Split the borrows: the child pointer is mutable, the neighbouring keys are bounds.
    let (before, after) = node.entries.split_at_mut(idx);
    let hi2 = after.first().map(|e| e.key.as_slice()).or(hi);
    let (child, lo2) = match before.last_mut() {
        Some(Entry {
            key: prev_key,
            right,
            ..
        }) => (right, Some(prev_key.as_slice())),
        None => (&mut node.left, lo),
    };
    get(child, layer - 1, key, height, (lo2, hi2), ctx)
}

/// Inserts or replaces `key` in the subtree at `layer` (>= the key's height). Returns the
/// previous value.
pub(crate) fn insert(
    child: &mut Child,
    layer: u32,
    key: &[u8],
    height: u32,
    val: Cid,
    ctx: &mut Ctx<'_>,
) -> Result<Option<Cid>, MstError> {
    if matches!(child, Child::Empty) {
        *child = Child::Node(Box::default());
    }
    let Some(node) = child.load(layer, ctx)? else {
        return Ok(None);
    };
    node.cid = None;
    let idx = node.lower_bound(key);
    if height == layer {
        if let Some(e) = node.entries.get_mut(idx)
            && e.key == key
        {
            let old = e.val;
            e.val = val;
            return Ok(Some(old));
        }
        let (l, r) = if layer == 0 {
            (Child::Empty, Child::Empty)
        } else {
            split(std::mem::take(node.ptr(idx)), layer - 1, key, ctx)?
        };
        *node.ptr(idx) = l;
        node.entries.insert(
            idx,
            Entry {
                key: Key::from(key),
                val,
                right: r,
            },
        );
        return Ok(None);
    }
    // height < layer, so layer >= 1.
    insert(node.ptr(idx), layer - 1, key, height, val, ctx)
}

/// Removes `key` from the subtree at `layer`. Returns the removed value.
pub(crate) fn delete(
    child: &mut Child,
    layer: u32,
    key: &[u8],
    height: u32,
    ctx: &mut Ctx<'_>,
) -> Result<Option<Cid>, MstError> {
    if height > layer {
        return Ok(None);
    }
    let Some(node) = child.load(layer, ctx)? else {
        return Ok(None);
    };
    let idx = node.lower_bound(key);
    let removed = if height == layer {
        match node.entries.get(idx) {
            Some(e) if e.key == key => {
                let entry = node.entries.remove(idx);
                node.cid = None;
                if layer > 0 {
                    let left = std::mem::take(node.ptr(idx));
                    *node.ptr(idx) = merge(left, entry.right, layer - 1, ctx)?;
                }
                Some(entry.val)
            }
            _ => None,
        }
    } else if layer == 0 {
        None
    } else {
        let removed = delete(node.ptr(idx), layer - 1, key, height, ctx)?;
        if removed.is_some() {
            node.cid = None;
        }
        removed
    };
    child.normalize();
    Ok(removed)
}

/// Splits a subtree at `layer` into keys below and above `key` (which it does not contain).
fn split(
    mut child: Child,
    layer: u32,
    key: &[u8],
    ctx: &mut Ctx<'_>,
) -> Result<(Child, Child), MstError> {
    let Some(node) = child.load(layer, ctx)? else {
        return Ok((Child::Empty, Child::Empty));
    };
    let idx = node.lower_bound(key);
    let (l, r) = if layer == 0 {
        (Child::Empty, Child::Empty)
    } else {
        split(std::mem::take(node.ptr(idx)), layer - 1, key, ctx)?
    };
    let right_entries = node.entries.split_off(idx);
    let mut left = Node {
        left: std::mem::take(&mut node.left),
        entries: std::mem::take(&mut node.entries),
        cid: None,
    };
    *left.last_ptr() = l;
    let right = Node {
        left: r,
        entries: right_entries,
        cid: None,
    };
    let mut left = Child::Node(Box::new(left));
    let mut right = Child::Node(Box::new(right));
    left.normalize();
    right.normalize();
    Ok((left, right))
}

/// Joins two adjacent subtrees at `layer` (all keys of `a` below all keys of `b`).
fn merge(mut a: Child, mut b: Child, layer: u32, ctx: &mut Ctx<'_>) -> Result<Child, MstError> {
    if matches!(a, Child::Empty) {
        return Ok(b);
    }
    if matches!(b, Child::Empty) {
        return Ok(a);
    }
    let b_node = match b.load(layer, ctx)? {
        Some(n) => std::mem::take(n),
        None => return Ok(a),
    };
    let Some(a_node) = a.load(layer, ctx)? else {
        return Ok(Child::Node(Box::new(b_node)));
    };
    a_node.cid = None;
    let Node {
        left: b_left,
        entries: b_entries,
        ..
    } = b_node;
    if layer > 0 {
        let a_last = std::mem::take(a_node.last_ptr());
        *a_node.last_ptr() = merge(a_last, b_left, layer - 1, ctx)?;
    }
    a_node.entries.extend(b_entries);
    a.normalize();
    Ok(a)
}

/// Appends every loaded node's block to `out` (stubs are not followed).
pub(crate) fn collect_blocks(child: &mut Child, out: &mut Vec<(Cid, Vec<u8>)>) {
    if let Child::Node(n) = child {
        collect_blocks(&mut n.left, out);
        for e in &mut n.entries {
            collect_blocks(&mut e.right, out);
        }
        let block = n.encode();
        let cid = cid_for_cbor(&block);
        n.cid = Some(cid);
        out.push((cid, block));
    }
}

/// Appends every (key, value) of a fully loaded subtree in key order.
pub(crate) fn collect_entries(child: &Child, out: &mut Vec<(Vec<u8>, Cid)>) {
    if let Child::Node(n) = child {
        collect_entries(&n.left, out);
        for e in &n.entries {
            out.push((e.key.to_vec(), e.val));
            collect_entries(&e.right, out);
        }
    }
}
