//! CAR v1: a zero-copy reader over `&[u8]` that checks every block against its CID, and a
//! writer for the devnet.
//!
//! Blocks may come in any order, be duplicated, or be unrelated to the roots: all tolerated
//! (duplicates must hash to the same CID, so the first copy wins). Blocks whose CID uses a
//! hash other than sha2-256 are rejected, because they cannot be checked.

use std::collections::HashMap;

use cid::Cid;

use crate::cbor::{self, Encoder, Limits, Value};
use crate::cid_util::{CidError, check_block, read_cid_prefix};

/// Size bounds for a CAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarLimits {
    /// Maximum total input size in bytes.
    pub max_bytes: usize,
    /// Maximum number of block sections.
    pub max_blocks: usize,
    /// Maximum size of one section (CID + block).
    pub max_block_bytes: usize,
}

impl CarLimits {
    /// Bounds for a firehose `#commit` `blocks` field (2 MB, 1 MB records).
    pub const COMMIT: CarLimits = CarLimits {
        max_bytes: 2_000_000,
        max_blocks: 10_000,
        max_block_bytes: 1_100_000,
    };
    /// Bounds for a `getRecord` proof CAR.
    pub const PROOF: CarLimits = CarLimits {
        max_bytes: 2_000_000,
        max_blocks: 1_000,
        max_block_bytes: 1_100_000,
    };
    /// Bounds for a full repository export (`getRepo`).
    pub const REPO: CarLimits = CarLimits {
        max_bytes: 1 << 32,
        max_blocks: 50_000_000,
        max_block_bytes: 2_000_000,
    };
}

/// Why a CAR was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarError {
    /// Input larger than [`CarLimits::max_bytes`].
    #[error("CAR larger than {0} bytes")]
    TooLarge(usize),
    /// More sections than [`CarLimits::max_blocks`].
    #[error("CAR has more than {0} blocks")]
    TooManyBlocks(usize),
    /// One section larger than [`CarLimits::max_block_bytes`].
    #[error("CAR block larger than {0} bytes")]
    BlockTooLarge(usize),
    /// Input ends inside a varint, header or section.
    #[error("truncated CAR")]
    Truncated,
    /// A varint longer than 9 bytes.
    #[error("bad varint in CAR")]
    Varint,
    /// The header is not `{roots: [links], version: 1}`.
    #[error("bad CAR header: {0}")]
    Header(String),
    /// A section's CID could not be parsed.
    #[error("bad block CID: {0}")]
    BlockCid(CidError),
    /// A block does not hash to its CID, or uses an unsupported hash.
    #[error("block check failed: {0}")]
    BlockHash(CidError),
}

/// A parsed CAR v1 borrowing its blocks from the input.
#[derive(Debug, Clone)]
pub struct CarSlice<'a> {
    roots: Vec<Cid>,
    blocks: HashMap<Cid, &'a [u8]>,
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, CarError> {
    let mut value: u64 = 0;
    for shift in 0..9u32 {
        let b = *bytes.get(*pos).ok_or(CarError::Truncated)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << (7 * shift);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(CarError::Varint)
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl<'a> CarSlice<'a> {
    /// Parses `bytes` as CAR v1 and checks every block's hash.
    pub fn parse(bytes: &'a [u8], limits: &CarLimits) -> Result<Self, CarError> {
        if bytes.len() > limits.max_bytes {
            return Err(CarError::TooLarge(limits.max_bytes));
        }
        let mut pos = 0;
        let header_len =
            usize::try_from(read_varint(bytes, &mut pos)?).map_err(|_| CarError::Truncated)?;
        let header_end = pos.checked_add(header_len).ok_or(CarError::Truncated)?;
        let header = bytes.get(pos..header_end).ok_or(CarError::Truncated)?;
        let roots = parse_header(header)?;
        pos = header_end;
        let mut blocks = HashMap::new();
        let mut sections = 0usize;
        while pos < bytes.len() {
            sections += 1;
            if sections > limits.max_blocks {
                return Err(CarError::TooManyBlocks(limits.max_blocks));
            }
            let len =
                usize::try_from(read_varint(bytes, &mut pos)?).map_err(|_| CarError::Truncated)?;
            if len > limits.max_block_bytes {
                return Err(CarError::BlockTooLarge(limits.max_block_bytes));
            }
            let end = pos.checked_add(len).ok_or(CarError::Truncated)?;
            let section = bytes.get(pos..end).ok_or(CarError::Truncated)?;
            let (cid, used) = read_cid_prefix(section).map_err(CarError::BlockCid)?;
            let data = &section[used..];
            if let std::collections::hash_map::Entry::Vacant(slot) = blocks.entry(cid) {
                check_block(&cid, data).map_err(CarError::BlockHash)?;
                slot.insert(data);
            }
            pos = end;
        }
        Ok(CarSlice { roots, blocks })
    }

    /// The header roots.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }
    /// The block with this CID, if present.
    pub fn get(&self, cid: &Cid) -> Option<&'a [u8]> {
        self.blocks.get(cid).copied()
    }
    /// Number of distinct blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }
    /// Whether the CAR has no blocks.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
    /// All distinct blocks, in no particular order.
    pub fn blocks(&self) -> impl Iterator<Item = (&Cid, &'a [u8])> + '_ {
        self.blocks.iter().map(|(c, b)| (c, *b))
    }
}

fn parse_header(header: &[u8]) -> Result<Vec<Cid>, CarError> {
    let limits = Limits {
        max_depth: 4,
        max_items: 10_000,
        ..Limits::RECORD
    };
    let decoded = cbor::decode(header, &limits).map_err(|e| CarError::Header(e.to_string()))?;
    let map = decoded
        .value
        .as_map()
        .ok_or_else(|| CarError::Header("not a map".into()))?;
    if map.get("version") != Some(&Value::Int(1)) {
        return Err(CarError::Header("version is not 1".into()));
    }
    match map.get("roots") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Link(c) => Ok(*c),
                _ => Err(CarError::Header("root is not a link".into())),
            })
            .collect(),
        _ => Err(CarError::Header("missing roots".into())),
    }
}

/// Writes a CAR v1 with these roots and blocks (in the given order, as given).
pub fn write_car<'b>(
    roots: &[Cid],
    blocks: impl IntoIterator<Item = (&'b Cid, &'b [u8])>,
) -> Vec<u8> {
    let mut header = Encoder::new();
    header.map(2).text("roots").array(roots.len());
    for r in roots {
        header.link(r);
    }
    header.text("version").uint(1);
    let header = header.into_bytes();
    let mut out = Vec::with_capacity(header.len() + 1024);
    write_varint(&mut out, header.len() as u64);
    out.extend_from_slice(&header);
    for (cid, data) in blocks {
        let cid_bytes = cid.to_bytes();
        write_varint(&mut out, (cid_bytes.len() + data.len()) as u64);
        out.extend_from_slice(&cid_bytes);
        out.extend_from_slice(data);
    }
    out
}
