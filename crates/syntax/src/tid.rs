//! `Tid`: a 13-character base32-sortable timestamp identifier (commit `rev`s are TIDs).

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// The sortable base32 alphabet used by TIDs.
const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A TID; string order equals time order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tid(String);

string_newtype!(Tid);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::Tid, reason)
}

impl Tid {
    /// Parses a TID: 13 characters of `234567a-z`, the first one of `234567a-j` (top bit 0).
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        let b = s.as_bytes();
        if b.len() != 13 {
            return Err(err("must be exactly 13 characters"));
        }
        if !b.iter().all(|c| ALPHABET.contains(c)) {
            return Err(err("must be base32-sortable (234567a-z)"));
        }
        if !matches!(b[0], b'2'..=b'7' | b'a'..=b'j') {
            return Err(err(
                "the high bit must be zero (first character 2-7 or a-j)",
            ));
        }
        Ok(Tid(s.to_owned()))
    }

    /// The TID of `micros` (unix microseconds) and `clock_id` (10 bits): the one encoder.
    pub fn from_parts(micros: u64, clock_id: u16) -> Self {
        let v = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
        Tid((0..13)
            .rev()
            .map(|i| ALPHABET[((v >> (i * 5)) & 31) as usize] as char)
            .collect())
    }

    /// The unix microseconds the TID encodes.
    pub fn micros(&self) -> u64 {
        self.to_u64() >> 10
    }

    /// The 63-bit integer the TID encodes (microseconds << 10 | clock id).
    pub fn to_u64(&self) -> u64 {
        self.0.bytes().fold(0u64, |acc, c| {
            let v = ALPHABET.iter().position(|a| *a == c).unwrap_or(0) as u64;
            (acc << 5) | v
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn string_order_is_numeric_order() {
        let a = Tid::parse("3jzfcijpj2z2a").unwrap();
        let b = Tid::parse("3jzfcijpj2z2b").unwrap();
        assert!(a < b);
        assert!(a.to_u64() < b.to_u64());
        assert_eq!(Tid::parse("2222222222222").unwrap().to_u64(), 0);
    }

    #[test]
    fn from_parts_round_trips_and_sorts_by_time() {
        let t = Tid::from_parts(1_780_000_000_123_456, 7);
        assert_eq!(Tid::parse(t.as_str()).unwrap(), t);
        assert_eq!(t.micros(), 1_780_000_000_123_456);
        assert_eq!(t.to_u64() & 0x3ff, 7);
        assert!(Tid::from_parts(1, 0) < Tid::from_parts(2, 0));
    }
}
