//! The hasher of the CAR's block map: cheaper than SipHash, still keyed by a secret drawn
//! once per process.
//!
//! Block CIDs are attacker-chosen bytes until their block is hash-checked, and even then an
//! attacker picks the codec freely and can grind digests offline. With a public hash they
//! could make every block land in one probe sequence and the map quadratic; with a secret
//! seed and multiplier they cannot tell which CIDs collide. Each word of the key goes through
//! a folded multiply (the full 128-bit product, high half XOR low half), which mixes every
//! input bit into both the bucket index (low bits) and the tag (high bits) of the table.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// Builds [`CidHasher`]s with the process's secret seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CidHashBuilder {
    seed: u64,
    mul: u64,
}

impl Default for CidHashBuilder {
    fn default() -> Self {
        static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
        let &(seed, mul) = KEYS.get_or_init(|| {
            let s = std::hash::RandomState::new();
            // Odd, with high bits set, so the product never loses the top of the input.
            (
                s.hash_one(0x5eed_u64),
                s.hash_one(0x006d_756c_u64) | (1 << 63) | 1,
            )
        });
        CidHashBuilder { seed, mul }
    }
}

impl BuildHasher for CidHashBuilder {
    type Hasher = CidHasher;
    #[inline]
    fn build_hasher(&self) -> CidHasher {
        CidHasher {
            acc: self.seed,
            mul: self.mul,
        }
    }
}

/// A keyed folded-multiply hasher over the words `Cid`'s `Hash` writes (version, codec,
/// hash code, digest length and digest).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CidHasher {
    acc: u64,
    mul: u64,
}

impl CidHasher {
    #[inline]
    fn absorb(&mut self, word: u64) {
        let p = u128::from(self.acc ^ word) * u128::from(self.mul);
        self.acc = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl Hasher for CidHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.absorb(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The tail's length in the top byte: tails of different lengths differ.
            self.absorb(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.absorb(u64::from(v));
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.absorb(u64::from(v));
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.absorb(u64::from(v));
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.absorb(v);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.absorb(v as u64);
    }
    #[inline]
    fn write_isize(&mut self, v: isize) {
        self.absorb(v as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.acc
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;
    use crate::cid_util::{cid_for_cbor, cid_for_raw};

    /// Same key, same hash; the fields the attacker controls for one digest (codec, version)
    /// change it; and distinct CIDs spread over the buckets of a small table.
    #[test]
    fn hashes_are_stable_and_spread() {
        let b = CidHashBuilder::default();
        let c = cid_for_cbor(b"x");
        assert_eq!(b.hash_one(c), CidHashBuilder::default().hash_one(c));
        let digest = *c.hash();
        let mut same_digest = HashSet::new();
        for codec in 0..1000u64 {
            same_digest.insert(b.hash_one(cid::Cid::new_v1(codec, digest)) & 0xffff);
        }
        same_digest.insert(b.hash_one(cid::Cid::new_v0(digest).unwrap()) & 0xffff);
        assert!(same_digest.len() > 980, "{}", same_digest.len());
        let mut buckets = [0u32; 64];
        for i in 0..64_000u32 {
            buckets[(b.hash_one(cid_for_raw(&i.to_le_bytes())) & 63) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (800..1200).contains(&n)),
            "{buckets:?}"
        );
        // The top 7 bits (the table's tags) vary too.
        let tags: HashSet<u64> = (0..1000u32)
            .map(|i| b.hash_one(cid_for_raw(&i.to_le_bytes())) >> 57)
            .collect();
        assert_eq!(tags.len(), 128);
    }

    #[test]
    fn tails_of_different_lengths_differ() {
        let b = CidHashBuilder::default();
        let h = |bytes: &[u8]| {
            let mut s = b.build_hasher();
            s.write(bytes);
            s.finish()
        };
        assert_ne!(h(&[0]), h(&[0, 0]));
        assert_ne!(h(&[]), h(&[0]));
        assert_ne!(h(&[1; 9]), h(&[1; 10]));
    }
}
