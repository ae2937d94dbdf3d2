//! MST node wire format: `{ l: link|null, e: [{ p, k, v, t }] }`, key heights and prefix
//! compression. Decoding validates what a single node can prove about itself.

use cid::Cid;

use super::MstError;
use super::key::Key;
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
    // Eight bytes at a time (neighbouring keys share ~20: `app.bsky.feed.post/3l...`).
    let mut n = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let mut wx = [0u8; 8];
        let mut wy = [0u8; 8];
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        let diff = u64::from_le_bytes(wx) ^ u64::from_le_bytes(wy);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + a[n..]
        .iter()
        .zip(&b[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// A decoded node: full keys, values, and subtree links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawNode {
    pub left: Option<Cid>,
    pub entries: Vec<RawEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub key: Key,
    pub val: Cid,
    pub right: Option<Cid>,
}

/// Encodes a node canonically. `entries` yields (key, value, right subtree).
///
/// Byte for byte what [`Encoder`] writes for `{e: [{k, p, t, v}], l}` (the test
/// `node_encoder_matches_the_generic_encoder` holds it to that), written straight into one
/// buffer, with blessed CIDs copied without varint encoding.
pub(crate) fn encode_node<'k>(
    left: Option<&Cid>,
    entries: impl ExactSizeIterator<Item = (&'k [u8], &'k Cid, Option<Cid>)>,
) -> Vec<u8> {
    // One allocation, no regrowth unless suffixes are longer than 46 bytes.
    let mut buf = Vec::with_capacity(ENCODE_FIXED + entries.len() * ENCODE_PER_ENTRY);
    buf.extend_from_slice(b"\xa2\x61e");
    push_head(&mut buf, 4, entries.len() as u64);
    let mut prev: &[u8] = &[];
    for (key, val, right) in entries {
        let p = common_prefix_len(prev, key);
        buf.extend_from_slice(b"\xa4\x61k");
        push_head(&mut buf, 2, (key.len() - p) as u64);
        buf.extend_from_slice(&key[p..]);
        buf.extend_from_slice(b"\x61p");
        push_head(&mut buf, 0, p as u64);
        buf.extend_from_slice(b"\x61t");
        push_opt_link(&mut buf, right.as_ref());
        buf.extend_from_slice(b"\x61v");
        push_link(&mut buf, val);
        prev = key;
    }
    buf.extend_from_slice(b"\x61l");
    push_opt_link(&mut buf, left);
    buf
}

/// Bytes of a node encoding outside its entries: map head, `e`, array head, `l` and a link.
const ENCODE_FIXED: usize = 3 + 9 + 2 + 41;
/// Room reserved per entry: map head and four one-letter keys (9), two heads (up to 18),
/// two links (82) and a suffix of up to 46 bytes.
const ENCODE_PER_ENTRY: usize = 9 + 18 + 82 + 46;

/// A minimal CBOR head (as [`Encoder`] writes it).
#[inline]
fn push_head(buf: &mut Vec<u8>, major: u8, v: u64) {
    let m = major << 5;
    if v < 24 {
        buf.push(m | v as u8);
    } else if v <= 0xff {
        buf.extend_from_slice(&[m | 24, v as u8]);
    } else if v <= 0xffff {
        buf.push(m | 25);
        buf.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= 0xffff_ffff {
        buf.push(m | 26);
        buf.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        buf.push(m | 27);
        buf.extend_from_slice(&v.to_be_bytes());
    }
}

#[inline]
fn push_opt_link(buf: &mut Vec<u8>, cid: Option<&Cid>) {
    match cid {
        Some(c) => push_link(buf, c),
        None => buf.push(0xf6),
    }
}

/// A CID link: blessed CIDs (v1, one-byte codec, sha2-256/32) directly, others through
/// [`Encoder::link`].
#[inline]
fn push_link(buf: &mut Vec<u8>, cid: &Cid) {
    let mh = cid.hash();
    if cid.version() == cid::Version::V1
        && cid.codec() < 0x80
        && mh.code() == 0x12
        && mh.size() == 32
    {
        let mut link = [0u8; 41];
        link[..9].copy_from_slice(&[
            0xd8,
            0x2a,
            0x58,
            37,
            0x00,
            0x01,
            cid.codec() as u8,
            0x12,
            0x20,
        ]);
        link[9..].copy_from_slice(mh.digest().get(..32).unwrap_or(&[0; 32]));
        buf.extend_from_slice(&link);
    } else {
        let mut e = Encoder::new();
        e.link(cid);
        buf.extend_from_slice(&e.into_bytes());
    }
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

/// Most entries a node may hold under [`NODE_LIMITS`]: the generic reader counts
/// 3 + 5 per entry items (map, `e`, `l`, and per entry its map and four values).
const MAX_ENTRIES: usize = (200_000 - 3) / 5;

/// A minimal (canonical) CBOR head of major type `major` at `*pos`; `None` otherwise.
#[inline]
fn canonical_head(b: &[u8], pos: &mut usize, major: u8) -> Option<usize> {
    let ib = *b.get(*pos)?;
    if ib >> 5 != major {
        return None;
    }
    let (v, len, min) = match ib & 0x1f {
        a @ 0..=23 => (u64::from(a), 1, 0),
        24 => (u64::from(*b.get(*pos + 1)?), 2, 24),
        25 => {
            let s = b.get(*pos + 1..*pos + 3)?;
            (u64::from(u16::from_be_bytes([s[0], s[1]])), 3, 0x100)
        }
        26 => {
            let s = b.get(*pos + 1..*pos + 5)?;
            (
                u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
                5,
                0x1_0000,
            )
        }
        _ => return None,
    };
    if v < min {
        return None;
    }
    *pos += len;
    usize::try_from(v).ok()
}

/// Expects the exact bytes `lit` at `*pos`.
#[inline]
fn lit(b: &[u8], pos: &mut usize, lit: &[u8]) -> Option<()> {
    if b.get(*pos..)?.starts_with(lit) {
        *pos += lit.len();
        Some(())
    } else {
        None
    }
}

/// `null` or a link to a blessed CID (v1, one-byte codec, sha2-256/32) at `*pos`, in the
/// exact bytes [`Encoder::link`] writes. Any other CID form gives `None`.
#[inline]
fn canonical_opt_link(b: &[u8], pos: &mut usize) -> Option<Option<Cid>> {
    if b.get(*pos) == Some(&0xf6) {
        *pos += 1;
        return Some(None);
    }
    canonical_link(b, pos).map(Some)
}

#[inline]
fn canonical_link(b: &[u8], pos: &mut usize) -> Option<Cid> {
    // tag 42, bytes(37), 0x00 multibase prefix, CIDv1, codec, sha2-256, 32-byte digest.
    let s = b.get(*pos..*pos + 9 + 32)?;
    let [0xd8, 0x2a, 0x58, 37, 0x00, 0x01, codec, 0x12, 0x20] = s[..9] else {
        return None;
    };
    if codec >= 0x80 {
        return None;
    }
    let mh = cid::multihash::Multihash::<64>::wrap(0x12, &s[9..]).ok()?;
    *pos += 9 + 32;
    Some(Cid::new_v1(u64::from(codec), mh))
}

/// The straight-line decoder for a node in exactly the canonical form [`encode_node`]
/// writes (with blessed CIDs): `Some` only for a block the generic path would accept with
/// the same result, `None` for anything else (the generic path then decides, errors
/// included). Canonical by construction, so no re-encode is needed.
fn decode_canonical(block: &[u8]) -> Option<RawNode> {
    let b = block;
    let mut pos = 0;
    lit(b, &mut pos, b"\xa2\x61e")?;
    let n = canonical_head(b, &mut pos, 4)?;
    if n > MAX_ENTRIES || n > b.len() {
        return None;
    }
    let mut entries: Vec<RawEntry> = Vec::with_capacity(n);
    for _ in 0..n {
        lit(b, &mut pos, b"\xa4\x61k")?;
        let len = canonical_head(b, &mut pos, 2)?;
        let suffix = b.get(pos..pos.checked_add(len)?)?;
        pos += len;
        lit(b, &mut pos, b"\x61p")?;
        let p = canonical_head(b, &mut pos, 0)?;
        lit(b, &mut pos, b"\x61t")?;
        let right = canonical_opt_link(b, &mut pos)?;
        lit(b, &mut pos, b"\x61v")?;
        let val = canonical_link(b, &mut pos)?;
        let prev: &[u8] = entries.last().map_or(&[], |e| e.key.as_slice());
        // Canonical prefix: exactly the bytes shared with the previous key.
        if p > prev.len() || p + suffix.len() > MAX_KEY {
            return None;
        }
        if p < prev.len() {
            // The next byte must differ from the previous key's, and be greater
            // (strictly increasing keys).
            if *suffix.first()? <= prev[p] {
                return None;
            }
        } else if suffix.is_empty() {
            // Equal to the previous key.
            return None;
        }
        let key = Key::concat(&prev[..p], suffix);
        entries.push(RawEntry { key, val, right });
    }
    lit(b, &mut pos, b"\x61l")?;
    let left = canonical_opt_link(b, &mut pos)?;
    (pos == b.len()).then_some(RawNode { left, entries })
}

/// Decodes and self-validates a node block: prefix compression consistent, keys strictly
/// increasing, and the block is the canonical encoding of the node. Layer checks happen in
/// the tree, which knows the expected layer.
pub(crate) fn decode_node(cid: &Cid, block: &[u8]) -> Result<RawNode, MstError> {
    if let Some(node) = decode_canonical(block) {
        return Ok(node);
    }
    decode_generic(cid, block)
}

/// The generic decoder behind [`decode_node`]: any CBOR, every error with its reason, and
/// canonical form required by re-encoding.
fn decode_generic(cid: &Cid, block: &[u8]) -> Result<RawNode, MstError> {
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
        let key = Key::concat(&prev_key[..p], suffix);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cid_util::{cid_for_cbor, cid_for_raw};
    use crate::mst::Mst;

    /// The node encoding through the generic [`Encoder`] (what `encode_node` was).
    fn encode_generic(left: Option<&Cid>, entries: &[(Vec<u8>, Cid, Option<Cid>)]) -> Vec<u8> {
        let mut e = Encoder::new();
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

    /// The word-at-a-time prefix against the byte loop, over every pair of short keys that
    /// differ at one position (or are prefixes of each other).
    #[test]
    fn common_prefix_len_matches_the_byte_loop() {
        let naive = |a: &[u8], b: &[u8]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for la in 0..=40 {
            for lb in 0..=40 {
                let (a, mut b) = (&base[..la], base[..lb].to_vec());
                assert_eq!(common_prefix_len(a, &b), naive(a, &b));
                for i in 0..lb {
                    b[i] ^= 0x40;
                    assert_eq!(common_prefix_len(a, &b), naive(a, &b), "{la} {lb} {i}");
                    b[i] ^= 0x40;
                }
            }
        }
    }

    #[test]
    fn node_encoder_matches_the_generic_encoder() {
        let v0 = Cid::try_from("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n").unwrap();
        let raw = cid_for_raw(b"x");
        let blessed = cid_for_cbor(b"\xa0");
        let big_codec = Cid::new_v1(0x300, *blessed.hash());
        let long_key = vec![b'a'; 300];
        let entries = [
            (b"a/1".to_vec(), blessed, None),
            (b"a/2".to_vec(), raw, Some(v0)),
            (b"b".to_vec(), v0, Some(big_codec)),
            (long_key, big_codec, Some(blessed)),
        ];
        for left in [None, Some(&blessed), Some(&v0)] {
            for n in 0..=entries.len() {
                let e = &entries[..n];
                let fast = encode_node(left, e.iter().map(|(k, v, r)| (k.as_slice(), v, *r)));
                assert_eq!(fast, encode_generic(left, e));
            }
        }
        for b in blocks() {
            let node = decode_generic(&cid_for_cbor(&b), &b).unwrap();
            let e: Vec<_> = node
                .entries
                .into_iter()
                .map(|e| (e.key.to_vec(), e.val, e.right))
                .collect();
            assert_eq!(encode_generic(node.left.as_ref(), &e), b);
        }
    }

    /// The node blocks of a tree with keys on several layers.
    fn blocks() -> Vec<Vec<u8>> {
        let mut mst = Mst::new();
        for i in 0..300u32 {
            let val = cid_for_raw(&i.to_be_bytes());
            mst.insert(&format!("app.bsky.feed.post/3l{i:011}"), val);
        }
        mst.blocks().into_iter().map(|(_, b)| b).collect()
    }

    #[test]
    fn canonical_decoder_takes_real_nodes_and_agrees_with_the_generic_one() {
        let blocks = blocks();
        assert!(blocks.len() > 20);
        for b in &blocks {
            let cid = cid_for_cbor(b);
            let fast = decode_canonical(b).expect("a canonical node takes the fast path");
            assert_eq!(Ok(fast), decode_generic(&cid, b));
        }
    }

    /// Mutated blocks: whenever the straight-line decoder accepts one, the generic decoder
    /// (which re-encodes) accepts it with the same node; otherwise `decode_node` gives the
    /// generic decoder's result, error reason included.
    #[test]
    fn canonical_decoder_never_accepts_what_the_generic_one_rejects() {
        let blocks = blocks();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let (mut accepted, mut rejected) = (0, 0);
        for round in 0..30_000 {
            let mut b = blocks[next() as usize % blocks.len()].clone();
            for _ in 0..1 + next() % 2 {
                let i = next() as usize % b.len();
                match next() % 4 {
                    0 => b[i] = next() as u8,
                    1 => b[i] ^= 1 << (next() % 8),
                    2 => {
                        b[i] = [0x00, 0x18, 0x40, 0x58, 0x61, 0xa4, 0xd8, 0xf6][next() as usize % 8]
                    }
                    _ => b[i] = b[i].wrapping_add(1),
                }
            }
            if round % 11 == 0 {
                b.truncate(next() as usize % b.len());
            }
            let cid = cid_for_cbor(&b);
            let generic = decode_generic(&cid, &b);
            match decode_canonical(&b) {
                Some(fast) => {
                    accepted += 1;
                    assert_eq!(Ok(fast), generic, "{b:02x?}");
                }
                None => rejected += usize::from(generic.is_err()),
            }
            assert_eq!(decode_node(&cid, &b), generic);
        }
        // Both kinds occur (mutating a key byte or a digest often keeps a valid node).
        assert!(
            accepted > 1_000 && rejected > 1_000,
            "{accepted} {rejected}"
        );
    }
}
