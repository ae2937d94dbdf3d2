//! CAR v1: a zero-copy reader over `&[u8]` that checks every block against its CID, and a
//! writer for the devnet.
//!
//! Blocks may come in any order, be duplicated, or be unrelated to the roots: all tolerated
//! (duplicates must hash to the same CID, so the first copy wins). Blocks whose CID uses a
//! hash other than sha2-256 are rejected, because they cannot be checked.
//!
//! The block map is pre-sized from a first pass over the section lengths and hashed with a
//! keyed folded multiply (`cid_map`) instead of SipHash.

mod cid_map;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

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
    blocks: HashMap<Cid, &'a [u8], cid_map::CidHashBuilder>,
}

/// Most entries the block map is pre-sized for (it grows past that as needed).
const PRESIZE_MAX: usize = 4096;
/// Fewest bytes a section can hold: a length byte and a CIDv0 (34 bytes).
const MIN_SECTION: usize = 35;

/// How many sections follow `pos`, counted from their lengths alone, up to `max`: the
/// count stops at the first length that is unreadable, too large, or too small to hold a
/// CID (the parse fails there anyway). Each counted section is at least [`MIN_SECTION`]
/// bytes, so garbage cannot make the map much larger than its input.
fn count_sections(bytes: &[u8], mut pos: usize, max: usize) -> usize {
    let mut n = 0;
    while pos < bytes.len() && n < max {
        let Ok(len) = read_varint(bytes, &mut pos) else {
            break;
        };
        match usize::try_from(len) {
            Ok(len) if len >= MIN_SECTION - 1 && len <= bytes.len() - pos => pos += len,
            _ => break,
        }
        n += 1;
    }
    n
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
        let presize = count_sections(bytes, pos, limits.max_blocks.min(PRESIZE_MAX));
        let mut blocks = HashMap::with_capacity_and_hasher(presize, Default::default());
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
            if let Entry::Vacant(slot) = blocks.entry(cid) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cid_util::cid_for_raw;

    /// The pre-sizing pass counts what the parse will read, and stops where the parse fails.
    #[test]
    fn section_count_matches_the_parse_and_stops_at_garbage() {
        let blocks: Vec<(Cid, Vec<u8>)> = (0..50u8).map(|i| (cid_for_raw(&[i]), vec![i])).collect();
        let car = write_car(
            &[blocks[0].0],
            blocks.iter().map(|(c, b)| (c, b.as_slice())),
        );
        let mut pos = 0;
        let header = read_varint(&car, &mut pos).unwrap() as usize;
        let start = pos + header;
        assert_eq!(count_sections(&car, start, 1000), 50);
        assert_eq!(count_sections(&car, start, 7), 7);
        assert_eq!(CarSlice::parse(&car, &CarLimits::COMMIT).unwrap().len(), 50);
        // Truncated in the last section, a length too short for a CID, a bad varint.
        assert_eq!(count_sections(&car[..car.len() - 1], start, 1000), 49);
        let mut short = car[..start].to_vec();
        short.extend_from_slice(&[5, 1, 2, 3, 4, 5]);
        assert_eq!(count_sections(&short, start, 1000), 0);
        let mut bad = car[..start].to_vec();
        bad.extend_from_slice(&[0xff; 12]);
        assert_eq!(count_sections(&bad, start, 1000), 0);
        assert_eq!(
            CarSlice::parse(&bad, &CarLimits::COMMIT).unwrap_err(),
            CarError::Varint
        );
    }

    /// One block under many codecs (which the hash check does not see): every CID is its own
    /// entry, and the first copy of a repeated CID wins, as with the standard map.
    #[test]
    fn same_digest_under_many_codecs_and_duplicates() {
        let data = b"same bytes".as_slice();
        let digest = *cid_for_raw(data).hash();
        let cids: Vec<Cid> = (0..2000u64).map(|c| Cid::new_v1(c, digest)).collect();
        let mut sections: Vec<(&Cid, &[u8])> = cids.iter().map(|c| (c, data)).collect();
        sections.push((&cids[7], b"other bytes, never checked".as_slice()));
        let car = write_car(&cids[..1], sections);
        let slice = CarSlice::parse(&car, &CarLimits::COMMIT).unwrap();
        assert_eq!(slice.len(), 2000);
        assert!(cids.iter().all(|c| slice.get(c) == Some(data)));
    }
}
