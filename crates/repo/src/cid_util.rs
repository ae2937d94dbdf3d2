//! CID helpers for the "blessed" atproto CID format: CIDv1, dag-cbor (0x71) or raw (0x55),
//! sha2-256 with a 32-byte digest. Also the fast path that parses a CID from the front of a
//! byte slice without allocating and the block-against-CID hash check.

use cid::Cid;
use cid::multihash::Multihash;
use sha2::{Digest, Sha256};

/// Multicodec of DAG-CBOR blocks (records, MST nodes, commits).
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec of raw blocks (blobs).
pub const RAW: u64 = 0x55;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// Errors about CIDs: syntax, unsupported hash, or a block whose bytes do not hash to its CID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidError {
    /// The bytes or string are not a CID.
    #[error("malformed CID: {0}")]
    Malformed(String),
    /// The CID uses a hash other than sha2-256/32, which we cannot check.
    #[error("unsupported CID hash code {0:#x}")]
    UnsupportedHash(u64),
    /// The block's SHA-256 does not equal the CID digest.
    #[error("block bytes do not match CID {0}")]
    HashMismatch(Cid),
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    if bytes.len() <= SHORT_MAX {
        return sha256_short(bytes);
    }
    Sha256::digest(bytes).into()
}

/// Longest message that fits one padded SHA-256 block (with the 0x80 byte and 64-bit length).
const SHORT_MAX: usize = 55;

/// SHA-256 of a message of at most [`SHORT_MAX`] bytes (MST keys, mostly): one padded
/// block straight through `sha2`'s compression function (SHA-NI when the CPU has it),
/// without the streaming wrapper's buffer and finalization.
fn sha256_short(bytes: &[u8]) -> [u8; 32] {
    const H0: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    let n = bytes.len().min(SHORT_MAX);
    let mut block = [0u8; 64];
    block[..n].copy_from_slice(&bytes[..n]);
    block[n] = 0x80;
    block[56..].copy_from_slice(&((n as u64) * 8).to_be_bytes());
    let mut state = H0;
    sha2::compress256(&mut state, &[block.into()]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

fn cid_from_digest(codec: u64, digest: &[u8; 32]) -> Cid {
    // A 32-byte digest always fits the 64-byte multihash, so `wrap` cannot fail here;
    // fall back to the default CID rather than panic to keep this function total.
    match Multihash::<64>::wrap(SHA2_256, digest) {
        Ok(mh) => Cid::new_v1(codec, mh),
        Err(_) => Cid::default(),
    }
}

/// The blessed dag-cbor CID (CIDv1, 0x71, sha2-256) of `bytes`.
pub fn cid_for_cbor(bytes: &[u8]) -> Cid {
    cid_from_digest(DAG_CBOR, &sha256(bytes))
}

/// The blessed raw CID (CIDv1, 0x55, sha2-256) of `bytes` (blobs).
pub fn cid_for_raw(bytes: &[u8]) -> Cid {
    cid_from_digest(RAW, &sha256(bytes))
}

/// Checks that `bytes` hash to `cid` (sha2-256 only; any codec).
pub fn check_block(cid: &Cid, bytes: &[u8]) -> Result<(), CidError> {
    let mh = cid.hash();
    if mh.code() != SHA2_256 || mh.size() != 32 {
        return Err(CidError::UnsupportedHash(mh.code()));
    }
    if mh.digest() == sha256(bytes).as_slice() {
        Ok(())
    } else {
        Err(CidError::HashMismatch(*cid))
    }
}

/// Parses a CID from its string form (`bafy...`; CIDv0 `Qm...` also accepted).
pub fn parse_cid(s: &str) -> Result<Cid, CidError> {
    Cid::try_from(s).map_err(|e| CidError::Malformed(e.to_string()))
}

/// Parses a CID from its binary form (exactly the CID bytes, nothing after).
pub fn cid_from_bytes(bytes: &[u8]) -> Result<Cid, CidError> {
    match read_cid_prefix(bytes)? {
        (cid, n) if n == bytes.len() => Ok(cid),
        _ => Err(CidError::Malformed("trailing bytes after CID".into())),
    }
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, CidError> {
    let mut value: u64 = 0;
    for shift in 0..9u32 {
        let b = *bytes
            .get(*pos)
            .ok_or_else(|| CidError::Malformed("truncated varint".into()))?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << (7 * shift);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(CidError::Malformed("varint too long".into()))
}

/// Parses a binary CIDv1 (or a 34-byte CIDv0) at the front of `bytes`, returning it and
/// the number of bytes it occupied. Never panics; never allocates.
pub fn read_cid_prefix(bytes: &[u8]) -> Result<(Cid, usize), CidError> {
    // CIDv0 is a bare sha2-256 multihash: 0x12 0x20 + 32 bytes.
    if bytes.first() == Some(&0x12) {
        let digest = bytes
            .get(2..34)
            .filter(|_| bytes.get(1) == Some(&0x20))
            .ok_or_else(|| CidError::Malformed("truncated CIDv0".into()))?;
        let mh = Multihash::<64>::wrap(SHA2_256, digest)
            .map_err(|e| CidError::Malformed(e.to_string()))?;
        return Ok((
            Cid::new_v0(mh).map_err(|e| CidError::Malformed(e.to_string()))?,
            34,
        ));
    }
    let mut pos = 0;
    let version = read_varint(bytes, &mut pos)?;
    if version != 1 {
        return Err(CidError::Malformed(format!("CID version {version}")));
    }
    let codec = read_varint(bytes, &mut pos)?;
    let code = read_varint(bytes, &mut pos)?;
    let len = read_varint(bytes, &mut pos)?;
    let len = usize::try_from(len).map_err(|_| CidError::Malformed("digest length".into()))?;
    if len > 64 {
        return Err(CidError::Malformed("digest longer than 64 bytes".into()));
    }
    let end = pos
        .checked_add(len)
        .ok_or_else(|| CidError::Malformed("digest length".into()))?;
    let digest = bytes
        .get(pos..end)
        .ok_or_else(|| CidError::Malformed("truncated digest".into()))?;
    let mh = Multihash::<64>::wrap(code, digest).map_err(|e| CidError::Malformed(e.to_string()))?;
    Ok((Cid::new_v1(codec, mh), end))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The one-block path against the streaming `sha2` for every length it takes, and the
    /// lengths around its limit.
    #[test]
    fn short_sha256_matches_the_streaming_hasher() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..=200usize {
            for _ in 0..8 {
                let msg: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let want: [u8; 32] = Sha256::digest(&msg).into();
                assert_eq!(sha256(&msg), want, "len {len}");
                if len <= SHORT_MAX {
                    assert_eq!(sha256_short(&msg), want, "len {len}");
                }
            }
        }
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn cbor_cid_round_trips_through_string_and_bytes() {
        let cid = cid_for_cbor(b"\xa0");
        assert_eq!(cid.codec(), DAG_CBOR);
        let s = cid.to_string();
        assert!(s.starts_with("bafyrei"), "{s}");
        assert_eq!(parse_cid(&s).unwrap(), cid);
        let bytes = cid.to_bytes();
        assert_eq!(bytes.len(), 36);
        assert_eq!(cid_from_bytes(&bytes).unwrap(), cid);
        assert_eq!(
            read_cid_prefix(&[bytes.as_slice(), b"xyz"].concat())
                .unwrap()
                .1,
            36
        );
    }

    #[test]
    fn raw_cid_uses_raw_codec() {
        let cid = cid_for_raw(b"blob");
        assert_eq!(cid.codec(), RAW);
        assert!(cid.to_string().starts_with("bafkrei"));
    }

    #[test]
    fn check_block_detects_tampering() {
        let cid = cid_for_cbor(b"abc");
        assert!(check_block(&cid, b"abc").is_ok());
        assert_eq!(check_block(&cid, b"abd"), Err(CidError::HashMismatch(cid)));
    }

    #[test]
    fn truncated_or_garbage_cid_bytes_are_errors_not_panics() {
        let bytes = cid_for_cbor(b"x").to_bytes();
        for n in 0..bytes.len() {
            assert!(read_cid_prefix(&bytes[..n]).is_err(), "prefix {n}");
        }
        assert!(read_cid_prefix(&[0xff; 20]).is_err());
        assert!(read_cid_prefix(&[0x01, 0x71, 0x12, 0x7f]).is_err());
        assert!(cid_from_bytes(&[bytes.as_slice(), &[0]].concat()).is_err());
    }

    #[test]
    fn interop_cid_syntax_vectors_with_sha256_parse() {
        let valid = String::from_utf8(crate::test_vectors::read(
            "atproto-interop-tests/syntax/cid_syntax_valid.txt",
        ))
        .unwrap();
        let mut n = 0;
        // Only the sha2-256 base32 CIDs: the others are syntax-only (identity hashes etc.).
        for line in valid.lines().filter(|l| l.starts_with("bafy")) {
            assert!(parse_cid(line).is_ok(), "{line}");
            n += 1;
        }
        assert_eq!(n, 2);
    }
}
