//! A small, bounded, panic-free DAG-CBOR reader and a canonical DAG-CBOR writer.
//!
//! The reader works over a borrowed `&[u8]` and never allocates: strings and byte strings
//! are returned as slices of the input. Every length is checked against the bytes left,
//! nesting is capped at [`MAX_DEPTH`], and anything DAG-CBOR forbids (indefinite lengths,
//! tags other than 42, reserved additional-info values) is an error. It is the hot path of
//! the filter-first firehose decode, so it does just enough and no more.
//!
//! The writer emits canonical DAG-CBOR: shortest-form heads, definite lengths, CIDs as
//! tag 42 over `0x00 ‖ cid bytes`. Map key order is the caller's job (the frame encoders
//! write keys in the canonical length-then-bytes order).

use thiserror::Error;

/// Maximum nesting of arrays/maps the reader accepts.
pub const MAX_DEPTH: u32 = 64;

/// Why a CBOR item could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CborError {
    /// The input ended inside an item.
    #[error("unexpected end of CBOR input")]
    Eof,
    /// The item is valid CBOR but not allowed in DAG-CBOR (indefinite length, bad tag...).
    #[error("CBOR not allowed in DAG-CBOR: {0}")]
    NotDagCbor(&'static str),
    /// The item has another type than the one expected.
    #[error("unexpected CBOR type: expected {expected}")]
    Type {
        /// What the caller wanted.
        expected: &'static str,
    },
    /// A text string is not valid UTF-8.
    #[error("CBOR text string is not UTF-8")]
    Utf8,
    /// Arrays/maps nested deeper than [`MAX_DEPTH`].
    #[error("CBOR nested too deeply")]
    TooDeep,
    /// An integer does not fit in an `i64`.
    #[error("CBOR integer out of range")]
    IntRange,
}

/// Major types of CBOR.
const MAJ_UINT: u8 = 0;
const MAJ_NINT: u8 = 1;
const MAJ_BYTES: u8 = 2;
const MAJ_TEXT: u8 = 3;
const MAJ_ARRAY: u8 = 4;
const MAJ_MAP: u8 = 5;
const MAJ_TAG: u8 = 6;

/// A cursor over a DAG-CBOR byte string.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Byte offset of the next item.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self.buf.get(self.pos).ok_or(CborError::Eof)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], CborError> {
        let left = self.buf.len() - self.pos.min(self.buf.len());
        if n > left as u64 {
            return Err(CborError::Eof);
        }
        let n = n as usize;
        let s = self.buf.get(self.pos..self.pos + n).ok_or(CborError::Eof)?;
        self.pos += n;
        Ok(s)
    }

    /// Reads an item head: (major type, additional info, argument).
    fn head(&mut self) -> Result<(u8, u8, u64), CborError> {
        let ib = self.byte()?;
        let major = ib >> 5;
        let ai = ib & 0x1f;
        let arg = match ai {
            0..=23 => u64::from(ai),
            24 => u64::from(self.byte()?),
            25 => {
                let s = self.take(2)?;
                u64::from(u16::from_be_bytes([s[0], s[1]]))
            }
            26 => {
                let s = self.take(4)?;
                u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            }
            27 => {
                let s = self.take(8)?;
                u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
            }
            31 => return Err(CborError::NotDagCbor("indefinite length")),
            _ => return Err(CborError::NotDagCbor("reserved additional info")),
        };
        Ok((major, ai, arg))
    }

    /// Steps over `n` raw bytes (for byte patterns already matched by the caller).
    pub fn skip_raw(&mut self, n: usize) -> Result<(), CborError> {
        self.take(n as u64).map(|_| ())
    }

    /// Looks at the major type of the next item without consuming it.
    pub fn peek_major(&self) -> Option<u8> {
        self.buf.get(self.pos).map(|b| b >> 5)
    }

    /// True (and consumed) when the next item is `null`.
    pub fn take_null(&mut self) -> bool {
        if self.buf.get(self.pos) == Some(&0xf6) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads a map head and returns its number of entries.
    pub fn map_len(&mut self) -> Result<u64, CborError> {
        match self.head()? {
            (MAJ_MAP, _, n) => Ok(n),
            _ => Err(CborError::Type { expected: "map" }),
        }
    }

    /// Reads an array head and returns its number of items.
    pub fn array_len(&mut self) -> Result<u64, CborError> {
        match self.head()? {
            (MAJ_ARRAY, _, n) => Ok(n),
            _ => Err(CborError::Type { expected: "array" }),
        }
    }

    /// Reads a text string.
    pub fn str(&mut self) -> Result<&'a str, CborError> {
        match self.head()? {
            (MAJ_TEXT, _, n) => {
                let s = self.take(n)?;
                std::str::from_utf8(s).map_err(|_| CborError::Utf8)
            }
            _ => Err(CborError::Type { expected: "text" }),
        }
    }

    /// Reads a text string or `null`.
    pub fn opt_str(&mut self) -> Result<Option<&'a str>, CborError> {
        if self.take_null() {
            return Ok(None);
        }
        self.str().map(Some)
    }

    /// Reads a byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        match self.head()? {
            (MAJ_BYTES, _, n) => self.take(n),
            _ => Err(CborError::Type { expected: "bytes" }),
        }
    }

    /// Reads an integer that fits in `i64`.
    pub fn int(&mut self) -> Result<i64, CborError> {
        match self.head()? {
            (MAJ_UINT, _, n) => i64::try_from(n).map_err(|_| CborError::IntRange),
            (MAJ_NINT, _, n) => {
                let n = i64::try_from(n).map_err(|_| CborError::IntRange)?;
                Ok(-1 - n)
            }
            _ => Err(CborError::Type {
                expected: "integer",
            }),
        }
    }

    /// Reads a boolean.
    pub fn bool(&mut self) -> Result<bool, CborError> {
        match self.byte()? {
            0xf4 => Ok(false),
            0xf5 => Ok(true),
            _ => Err(CborError::Type { expected: "bool" }),
        }
    }

    /// Reads a CID link (tag 42 over `0x00 ‖ cid`) and returns the raw CID bytes.
    pub fn cid_bytes(&mut self) -> Result<&'a [u8], CborError> {
        match self.head()? {
            (MAJ_TAG, _, 42) => {}
            _ => {
                return Err(CborError::Type {
                    expected: "cid-link",
                });
            }
        }
        let b = self.bytes()?;
        match b.split_first() {
            Some((0, rest)) if !rest.is_empty() => Ok(rest),
            _ => Err(CborError::NotDagCbor("cid-link without 0x00 prefix")),
        }
    }

    /// Reads a CID link or `null`.
    pub fn opt_cid_bytes(&mut self) -> Result<Option<&'a [u8]>, CborError> {
        if self.take_null() {
            return Ok(None);
        }
        self.cid_bytes().map(Some)
    }

    /// Skips one complete item of any type.
    pub fn skip(&mut self) -> Result<(), CborError> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: u32) -> Result<(), CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let (major, ai, arg) = self.head()?;
        match major {
            MAJ_UINT | MAJ_NINT => Ok(()),
            MAJ_BYTES => self.take(arg).map(|_| ()),
            MAJ_TEXT => {
                let s = self.take(arg)?;
                std::str::from_utf8(s)
                    .map(|_| ())
                    .map_err(|_| CborError::Utf8)
            }
            MAJ_ARRAY => {
                for _ in 0..arg {
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            MAJ_MAP => {
                for _ in 0..arg {
                    if self.peek_major() != Some(MAJ_TEXT) {
                        return Err(CborError::NotDagCbor("map key is not a string"));
                    }
                    self.skip_depth(depth + 1)?;
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            MAJ_TAG => {
                if arg != 42 {
                    return Err(CborError::NotDagCbor("tag other than 42"));
                }
                let b = self.bytes()?;
                if b.first() != Some(&0) {
                    return Err(CborError::NotDagCbor("cid-link without 0x00 prefix"));
                }
                Ok(())
            }
            _ => match (ai, arg) {
                (20..=22, _) => Ok(()),
                // 64-bit float: the only float DAG-CBOR allows; atproto forbids it in
                // records, but it is still well-formed, so skipping it is fine.
                (27, _) => Ok(()),
                _ => Err(CborError::NotDagCbor("simple value or short float")),
            },
        }
    }
}

/// Appends canonical DAG-CBOR items to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    /// The encoded bytes so far.
    pub out: Vec<u8>,
}

impl Writer {
    /// An empty writer with some capacity.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            out: Vec::with_capacity(n),
        }
    }

    fn head(&mut self, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            self.out.push(m | n as u8);
        } else if n <= u64::from(u8::MAX) {
            self.out.extend_from_slice(&[m | 24, n as u8]);
        } else if n <= u64::from(u16::MAX) {
            self.out.push(m | 25);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= u64::from(u32::MAX) {
            self.out.push(m | 26);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.out.push(m | 27);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// A map head with `n` entries.
    pub fn map(&mut self, n: u64) -> &mut Self {
        self.head(MAJ_MAP, n);
        self
    }

    /// An array head with `n` items.
    pub fn array(&mut self, n: u64) -> &mut Self {
        self.head(MAJ_ARRAY, n);
        self
    }

    /// A text string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.head(MAJ_TEXT, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
        self
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(MAJ_BYTES, b.len() as u64);
        self.out.extend_from_slice(b);
        self
    }

    /// An integer.
    pub fn int(&mut self, v: i64) -> &mut Self {
        if v >= 0 {
            self.head(MAJ_UINT, v as u64);
        } else {
            self.head(MAJ_NINT, (-1 - v) as u64);
        }
        self
    }

    /// A boolean.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.out.push(if v { 0xf5 } else { 0xf4 });
        self
    }

    /// `null`.
    pub fn null(&mut self) -> &mut Self {
        self.out.push(0xf6);
        self
    }

    /// A CID link from raw CID bytes.
    pub fn cid_bytes(&mut self, cid: &[u8]) -> &mut Self {
        self.head(MAJ_TAG, 42);
        self.head(MAJ_BYTES, cid.len() as u64 + 1);
        self.out.push(0);
        self.out.extend_from_slice(cid);
        self
    }

    /// An optional text string (`null` when absent).
    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }
}

/// Sorts map keys in DAG-CBOR canonical order (length first, then bytes).
pub fn canonical_key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_at_every_head_width() {
        for v in [
            0i64,
            23,
            24,
            255,
            256,
            65535,
            65536,
            1 << 40,
            -1,
            -24,
            -25,
            -1000,
            i64::MIN,
            i64::MAX,
        ] {
            let mut w = Writer::default();
            w.int(v);
            let mut r = Reader::new(&w.out);
            assert_eq!(r.int().unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn indefinite_lengths_are_rejected() {
        let mut r = Reader::new(&[0x9f, 0x01, 0xff]);
        assert_eq!(r.skip(), Err(CborError::NotDagCbor("indefinite length")));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let buf = vec![0x81u8; 100_000];
        assert_eq!(Reader::new(&buf).skip(), Err(CborError::TooDeep));
    }

    #[test]
    fn huge_declared_lengths_fail_cleanly() {
        let buf = [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert_eq!(Reader::new(&buf).skip(), Err(CborError::Eof));
        let buf = [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(Reader::new(&buf).skip(), Err(CborError::Eof));
    }

    #[test]
    fn cid_link_round_trips() {
        let cid = [1u8, 0x71, 0x12, 0x20, 9, 9, 9];
        let mut w = Writer::default();
        w.cid_bytes(&cid);
        assert_eq!(&w.out[..5], &[0xd8, 0x2a, 0x48, 0x00, 0x01]);
        assert_eq!(Reader::new(&w.out).cid_bytes().unwrap(), &cid);
    }

    #[test]
    fn canonical_order_is_length_then_bytes() {
        let mut keys = vec!["since", "ops", "seq", "rev", "prevData", "blocks", "commit"];
        keys.sort_by(|a, b| canonical_key_cmp(a, b));
        assert_eq!(
            keys,
            ["ops", "rev", "seq", "since", "blocks", "commit", "prevData"]
        );
    }
}
