//! Merkle Search Tree: key heights, node format, an in-memory builder for the devnet
//! ([`Mst`]) and a partial tree over the blocks of a CAR slice ([`PartialMst`]) for lookups,
//! proofs of presence/absence and Sync 1.1 inversion ([`invert_ops`]).

mod invert;
mod key;
mod node;
mod tree;

use std::collections::{BTreeMap, HashMap};

use cid::Cid;

use crate::car::CarSlice;
use crate::cbor::CborError;
use crate::cid_util::cid_for_cbor;
pub use invert::{InvertError, Op, OpAction, invert_ops};
pub use node::{common_prefix_len, key_height};
use tree::{Child, Ctx, Node};

/// MST structure errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MstError {
    /// A node needed for the operation is not among the available blocks.
    #[error("MST node {0} not available")]
    MissingBlock(Box<Cid>),
    /// A node block is not valid CBOR.
    #[error("MST node {0}: {1}")]
    Decode(Box<Cid>, CborError),
    /// A node violates the MST rules.
    #[error("invalid MST node {0}: {1}")]
    InvalidNode(Box<Cid>, &'static str),
}

/// Read access to blocks by CID (`Sync`, so partial trees can live across `.await`s).
pub trait BlockSource: Sync {
    /// The block bytes, if available.
    fn get_block(&self, cid: &Cid) -> Option<&[u8]>;
}

impl BlockSource for CarSlice<'_> {
    fn get_block(&self, cid: &Cid) -> Option<&[u8]> {
        self.get(cid)
    }
}

impl BlockSource for HashMap<Cid, Vec<u8>> {
    fn get_block(&self, cid: &Cid) -> Option<&[u8]> {
        self.get(cid).map(Vec::as_slice)
    }
}

impl BlockSource for BTreeMap<Cid, Vec<u8>> {
    fn get_block(&self, cid: &Cid) -> Option<&[u8]> {
        self.get(cid).map(Vec::as_slice)
    }
}

/// A source with no blocks (for trees that are fully in memory).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlocks;

impl BlockSource for NoBlocks {
    fn get_block(&self, _: &Cid) -> Option<&[u8]> {
        None
    }
}

/// The CID of the empty MST (a node with no entries).
pub fn empty_root() -> Cid {
    cid_for_cbor(&node::encode_node(None, std::iter::empty()))
}

/// Root pointer plus the layer of the root node.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    root: Child,
    layer: u32,
}

impl Tree {
    fn load(root: Cid, ctx: &mut Ctx<'_>) -> Result<Self, MstError> {
        let block = ctx
            .src
            .get_block(&root)
            .ok_or(MstError::MissingBlock(Box::new(root)))?;
        if let Some(reads) = &mut ctx.reads {
            reads.push(root);
        }
        let raw = node::decode_node(&root, block)?;
        if raw.entries.is_empty() {
            return match raw.left {
                None => Ok(Tree::default()),
                Some(_) => Err(MstError::InvalidNode(
                    Box::new(root),
                    "root has no entries but a subtree",
                )),
            };
        }
        let (node, layer) = tree::node_from_raw(&root, raw, None)?;
        Ok(Tree {
            root: Child::Node(Box::new(node)),
            layer,
        })
    }

    fn get(&mut self, key: &[u8], ctx: &mut Ctx<'_>) -> Result<Option<Cid>, MstError> {
        tree::get(
            &mut self.root,
            self.layer,
            key,
            key_height(key),
            (None, None),
            ctx,
        )
    }

    fn insert(&mut self, key: &[u8], val: Cid, ctx: &mut Ctx<'_>) -> Result<Option<Cid>, MstError> {
        let height = key_height(key);
        if matches!(self.root, Child::Empty) {
            self.layer = height;
        }
        while height > self.layer {
            let old = std::mem::take(&mut self.root);
            let wrapped = match old {
                Child::Empty => Child::Empty,
                other => Child::Node(Box::new(Node {
                    left: other,
                    entries: Vec::new(),
                    cid: None,
                })),
            };
            self.root = wrapped;
            self.layer += 1;
        }
        tree::insert(&mut self.root, self.layer, key, height, val, ctx)
    }

    fn delete(&mut self, key: &[u8], ctx: &mut Ctx<'_>) -> Result<Option<Cid>, MstError> {
        let removed = tree::delete(&mut self.root, self.layer, key, key_height(key), ctx)?;
        // Trim the top: a root without entries is replaced by its only subtree.
        loop {
            let layer = self.layer;
            let root = &mut self.root;
            if let Child::Stub(cid) = root {
                let cid = *cid;
                // A missing top node is taken as the root as it is: if it were an entry-less
                // wrapper the computed root would simply not match `prevData` (a false
                // negative, never a false positive). indigo does the same (the "can not prune
                // top of tree" regression, firehose commit 4623075231).
                let Some(block) = ctx.src.get_block(&cid) else {
                    break;
                };
                if let Some(reads) = &mut ctx.reads {
                    reads.push(cid);
                }
                let (node, _) =
                    tree::node_from_raw(&cid, node::decode_node(&cid, block)?, Some(layer))?;
                *root = Child::Node(Box::new(node));
            }
            match root {
                Child::Node(n) if n.entries.is_empty() => {
                    self.root = std::mem::take(&mut n.left);
                    if self.layer == 0 {
                        break;
                    }
                    self.layer -= 1;
                }
                _ => break,
            }
        }
        Ok(removed)
    }

    fn root_cid(&mut self) -> Cid {
        self.root.cid().unwrap_or_else(empty_root)
    }
}

/// An in-memory MST (the devnet PDS's repository index): keys `collection/rkey` to record CIDs.
#[derive(Debug, Clone, Default)]
pub struct Mst {
    pub(crate) tree: Tree,
}

impl Mst {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every node reachable from `root` out of `src` (e.g. a full repo CAR).
    pub fn load_all(root: Cid, src: &dyn BlockSource) -> Result<Self, MstError> {
        let mut ctx = Ctx { src, reads: None };
        let mut tree = Tree::load(root, &mut ctx)?;
        fn walk(child: &mut Child, layer: u32, ctx: &mut Ctx<'_>) -> Result<(), MstError> {
            if let Child::Stub(_) = child {
                tree::get(child, layer, &[], u32::MAX, (None, None), ctx)?;
            }
            if let Child::Node(n) = child
                && layer > 0
            {
                walk(&mut n.left, layer - 1, ctx)?;
                for e in &mut n.entries {
                    walk(&mut e.right, layer - 1, ctx)?;
                }
            }
            Ok(())
        }
        walk(&mut tree.root, tree.layer, &mut ctx)?;
        Ok(Mst { tree })
    }

    /// The value at `key`.
    pub fn get(&self, key: &str) -> Option<Cid> {
        // A fully loaded tree never needs a load: walk it read-only.
        let mut child = &self.tree.root;
        let mut layer = self.tree.layer;
        let height = key_height(key.as_bytes());
        loop {
            let Child::Node(n) = child else { return None };
            let idx = n
                .entries
                .partition_point(|e| e.key.as_slice() < key.as_bytes());
            if height >= layer {
                return n
                    .entries
                    .get(idx)
                    .filter(|e| height == layer && e.key == key.as_bytes())
                    .map(|e| e.val);
            }
            child = if idx == 0 {
                &n.left
            } else {
                &n.entries[idx - 1].right
            };
            layer -= 1;
        }
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &str, val: Cid) -> Option<Cid> {
        self.tree
            .insert(
                key.as_bytes(),
                val,
                &mut Ctx {
                    src: &NoBlocks,
                    reads: None,
                },
            )
            .ok()
            .flatten()
    }

    /// Removes; returns the removed value.
    pub fn delete(&mut self, key: &str) -> Option<Cid> {
        self.tree
            .delete(
                key.as_bytes(),
                &mut Ctx {
                    src: &NoBlocks,
                    reads: None,
                },
            )
            .ok()
            .flatten()
    }

    /// The root CID (the commit's `data`).
    pub fn root(&mut self) -> Cid {
        self.tree.root_cid()
    }

    /// Every node block (for a full repo export). The empty tree yields its one empty node.
    pub fn blocks(&mut self) -> Vec<(Cid, Vec<u8>)> {
        let mut out = Vec::new();
        tree::collect_blocks(&mut self.tree.root, &mut out);
        if out.is_empty() {
            let block = node::encode_node(None, std::iter::empty());
            out.push((cid_for_cbor(&block), block));
        }
        out
    }

    /// All (key, value) pairs in key order.
    pub fn entries(&self) -> Vec<(String, Cid)> {
        let mut out = Vec::new();
        tree::collect_entries(&self.tree.root, &mut out);
        out.into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect()
    }

    /// The node blocks on the search path of `key`: a proof of its presence or absence
    /// (what `com.atproto.sync.getRecord` returns besides the commit and record).
    pub fn proof_blocks(&mut self, key: &str) -> Vec<(Cid, Vec<u8>)> {
        let all: HashMap<Cid, Vec<u8>> = self.blocks().into_iter().collect();
        let root = self.root();
        let Ok(mut partial) = PartialMst::load(root, &all) else {
            return Vec::new();
        };
        partial.track_reads();
        let _ = partial.get(key);
        partial
            .reads()
            .iter()
            .filter_map(|c| all.get(c).map(|b| (*c, b.clone())))
            .collect()
    }

    /// The MST blocks a Sync 1.1 `#commit` must carry when going from `old` to `self` by
    /// `ops`: every node new in `self`, every node our inversion reads, and (like the
    /// reference implementations) the unchanged nodes that applying the ops to `old` reads,
    /// which other consumers' merge strategies may need.
    pub fn commit_proof_blocks(
        &mut self,
        old: &mut Mst,
        ops: &[Op<'_>],
    ) -> Result<Vec<(Cid, Vec<u8>)>, InvertError> {
        let all: HashMap<Cid, Vec<u8>> = self.blocks().into_iter().collect();
        let old_cids: std::collections::HashSet<Cid> =
            old.blocks().into_iter().map(|(c, _)| c).collect();
        let mut partial = PartialMst::load(self.root(), &all)?;
        partial.track_reads();
        invert_ops(&mut partial, ops)?;
        let mut wanted: std::collections::BTreeSet<Cid> = partial.reads().iter().copied().collect();
        wanted.extend(all.keys().filter(|c| !old_cids.contains(c)).copied());
        // Nodes the forward application of the ops reads in `old` (split and merge paths).
        let old_blocks: HashMap<Cid, Vec<u8>> = old.blocks().into_iter().collect();
        let mut forward = PartialMst::load(old.root(), &old_blocks)?;
        forward.track_reads();
        for op in ops {
            match op.cid {
                Some(cid) => forward.insert(op.path, cid)?,
                None => forward.delete(op.path)?,
            };
        }
        wanted.extend(
            forward
                .reads()
                .iter()
                .filter(|c| all.contains_key(c))
                .copied(),
        );
        Ok(wanted
            .into_iter()
            .filter_map(|c| all.get(&c).map(|b| (c, b.clone())))
            .collect())
    }
}

/// An MST over blocks that may be incomplete (a CAR slice). Operations that need a missing
/// node fail with [`MstError::MissingBlock`] (unprovable), never guess.
pub struct PartialMst<'s> {
    pub(crate) tree: Tree,
    ctx: Ctx<'s>,
    /// The root given to [`Self::load`]: its block was read even when the tree is empty
    /// (an empty tree has no node in `tree`, but a consumer still loads its root block).
    loaded_root: Cid,
}

impl std::fmt::Debug for PartialMst<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartialMst")
            .field("layer", &self.tree.layer)
            .finish_non_exhaustive()
    }
}

impl<'s> PartialMst<'s> {
    /// Loads the root node `root` from `src`.
    pub fn load(root: Cid, src: &'s dyn BlockSource) -> Result<Self, MstError> {
        let mut ctx = Ctx { src, reads: None };
        let tree = Tree::load(root, &mut ctx)?;
        Ok(PartialMst {
            tree,
            ctx,
            loaded_root: root,
        })
    }

    /// Starts recording the CIDs of nodes read from the source, starting with the root given
    /// to [`Self::load`] (also when it is the empty node: a proof set must always hold it).
    pub fn track_reads(&mut self) {
        self.ctx.reads = Some(vec![self.loaded_root]);
    }

    /// CIDs read from the source since [`Self::track_reads`].
    pub fn reads(&self) -> &[Cid] {
        self.ctx.reads.as_deref().unwrap_or(&[])
    }

    /// `Ok(Some(cid))` found, `Ok(None)` proven absent, `Err(MissingBlock)` unprovable.
    pub fn get(&mut self, key: &str) -> Result<Option<Cid>, MstError> {
        self.tree.get(key.as_bytes(), &mut self.ctx)
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &str, val: Cid) -> Result<Option<Cid>, MstError> {
        self.tree.insert(key.as_bytes(), val, &mut self.ctx)
    }

    /// Removes; returns the removed value.
    pub fn delete(&mut self, key: &str) -> Result<Option<Cid>, MstError> {
        self.tree.delete(key.as_bytes(), &mut self.ctx)
    }

    /// The current root CID.
    pub fn root(&mut self) -> Cid {
        self.tree.root_cid()
    }
}
