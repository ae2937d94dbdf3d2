//! MST node wire format: `{ l: link|null, e: [{ p, k, v, t }] }`, key heights and prefix
//! compression. Decoding validates what a single node can prove about itself.

use cid::Cid;

use super::MstError;
use crate::cbor::{self, Encoder, Limits, Value};
use crate::cid_util::sha256;

/// The MST layer of a key: leading zero bits of SHA-256(key), divided by 2 (fanout 4).
pub fn key_height(key: &[u8]) -> u32 {
    let digest = sha256(key);
    let mut zeros = 0;
    for b in digest {
        if b == 0 {
            zeros += 8;
        } else {
            zeros += b.leading_zeros();
            break;
        }
    }
    zeros / 2
}

/// Length of the common byte prefix of `a` and `b`.
pub fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A decoded node: full keys, values, and subtree links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawNode {
    pub left: Option<Cid>,
    pub entries: Vec<RawEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub key: Vec<u8>,
    pub val: Cid,
    pub right: Option<Cid>,
}

/// Encodes a node canonically. `entries` yields (key, value, right subtree).
pub(crate) fn encode_node<'k>(
    left: Option<&Cid>,
    entries: impl ExactSizeIterator<Item = (&'k [u8], &'k Cid, Option<Cid>)>,
) -> Vec<u8> {
    let mut e = Encoder::with_capacity(64 + entries.len() * 80);
    e.map(2).text("e").array(entries.len());
    let mut prev: &[u8] = &[];
    for (key, val, right) in entries {
        let p = common_prefix_len(prev, key);
        e.map(4);
        e.text("k").bytes(&key[p..]);
        e.text("p").uint(p as u64);
        e.text("t").opt_link(right.as_ref());
        e.text("v").link(val);
        prev = key;
    }
    e.text("l").opt_link(left);
    e.into_bytes()
}

const NODE_LIMITS: Limits = Limits {
    max_depth: 4,
    max_items: 200_000,
    ..Limits::RECORD
};
/// Longest key we accept (collection NSID 317 + '/' + rkey 512, rounded up).
const MAX_KEY: usize = 1024;

fn opt_link(v: Option<&Value<'_>>, what: &'static str, cid: &Cid) -> Result<Option<Cid>, MstError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Link(c)) => Ok(Some(*c)),
        Some(_) => Err(MstError::InvalidNode(Box::new(*cid), what)),
    }
}

/// Decodes and self-validates a node block: prefix compression consistent, keys strictly
/// increasing, and the block is the canonical encoding of the node. Layer checks happen in
/// the tree, which knows the expected layer.
pub(crate) fn decode_node(cid: &Cid, block: &[u8]) -> Result<RawNode, MstError> {
    let value = cbor::decode(block, &NODE_LIMITS)
        .map_err(|e| MstError::Decode(Box::new(*cid), e))?
        .value;
    let map = value
        .as_map()
        .ok_or(MstError::InvalidNode(Box::new(*cid), "node is not a map"))?;
    let left = opt_link(map.get("l"), "bad l", cid)?;
    let items = match map.get("e") {
        Some(Value::Array(items)) => items,
        _ => return Err(MstError::InvalidNode(Box::new(*cid), "missing e")),
    };
    let mut entries: Vec<RawEntry> = Vec::with_capacity(items.len());
    for item in items {
        let m = item
            .as_map()
            .ok_or(MstError::InvalidNode(Box::new(*cid), "entry is not a map"))?;
        let p = match m.get("p") {
            Some(Value::Int(p)) => {
                usize::try_from(*p).map_err(|_| MstError::InvalidNode(Box::new(*cid), "bad p"))?
            }
            _ => return Err(MstError::InvalidNode(Box::new(*cid), "missing p")),
        };
        let suffix = match m.get("k") {
            Some(Value::Bytes(k)) => *k,
            _ => return Err(MstError::InvalidNode(Box::new(*cid), "missing k")),
        };
        let val = match m.get("v") {
            Some(Value::Link(c)) => *c,
            _ => return Err(MstError::InvalidNode(Box::new(*cid), "missing v")),
        };
        let right = opt_link(m.get("t"), "bad t", cid)?;
        let prev_key: &[u8] = entries.last().map_or(&[], |e| e.key.as_slice());
        if p > prev_key.len() {
            return Err(MstError::InvalidNode(
                Box::new(*cid),
                "prefix longer than previous key",
            ));
        }
        if p + suffix.len() > MAX_KEY {
            return Err(MstError::InvalidNode(Box::new(*cid), "key too long"));
        }
        let mut key = Vec::with_capacity(p + suffix.len());
        key.extend_from_slice(&prev_key[..p]);
        key.extend_from_slice(suffix);
        if !entries.is_empty() && key.as_slice() <= prev_key {
            return Err(MstError::InvalidNode(
                Box::new(*cid),
                "keys not strictly increasing",
            ));
        }
        entries.push(RawEntry { key, val, right });
    }
    // One tree, one encoding: a node that decodes but is not the canonical encoding of what
    // it holds (no `l` or `t`, extra fields, a prefix shorter than shared, non-canonical CBOR)
    // would give the same tree a second CID. Found by the `mst` fuzz target.
    let canonical = encode_node(
        left.as_ref(),
        entries.iter().map(|e| (e.key.as_slice(), &e.val, e.right)),
    );
    if canonical != block {
        return Err(MstError::InvalidNode(Box::new(*cid), "not canonical"));
    }
    Ok(RawNode { left, entries })
}
