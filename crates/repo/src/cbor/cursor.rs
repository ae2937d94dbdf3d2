//! The one low-level DAG-CBOR reader: a cursor over a borrowed `&[u8]` that never
//! allocates. Strings and byte strings are slices of the input, every length is checked
//! against the bytes left, nesting of [`Reader::skip`] is capped at [`MAX_DEPTH`], and
//! anything DAG-CBOR forbids (indefinite lengths, tags other than 42, reserved
//! additional-info values) is an error. The firehose's filter-first frame walk reads with it
//! item by item; [`super::decode`] builds its value tree on top of it.

use super::read::CborError;

/// Maximum nesting of arrays/maps [`Reader::skip`] accepts.
pub const MAX_DEPTH: u32 = 64;

/// Major types of CBOR.
pub(super) const MAJ_UINT: u8 = 0;
pub(super) const MAJ_NINT: u8 = 1;
pub(super) const MAJ_BYTES: u8 = 2;
pub(super) const MAJ_TEXT: u8 = 3;
pub(super) const MAJ_ARRAY: u8 = 4;
pub(super) const MAJ_MAP: u8 = 5;
pub(super) const MAJ_TAG: u8 = 6;
pub(super) const MAJ_SIMPLE: u8 = 7;

fn no_prefix() -> CborError {
    CborError::BadLink("missing 0x00 multibase prefix".into())
}

/// A cursor over a DAG-CBOR byte string.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Byte offset of the next item.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte was consumed.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes not read yet.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    #[inline]
    pub(super) fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self.buf.get(self.pos).ok_or(CborError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Takes the next `n` raw bytes.
    #[inline]
    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8], CborError> {
        let left = self.buf.len() - self.pos.min(self.buf.len());
        if n > left as u64 {
            return Err(CborError::Truncated);
        }
        let n = n as usize;
        let s = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or(CborError::Truncated)?;
        self.pos += n;
        Ok(s)
    }

    /// Reads an item head: (major type, additional info, argument).
    #[inline]
    pub(super) fn head(&mut self) -> Result<(u8, u8, u64), CborError> {
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
            31 => return Err(CborError::Indefinite),
            _ => return Err(CborError::Unsupported(ib)),
        };
        Ok((major, ai, arg))
    }

    /// Steps over `n` raw bytes (for byte patterns already matched by the caller).
    #[inline]
    pub fn skip_raw(&mut self, n: usize) -> Result<(), CborError> {
        self.take(n as u64).map(|_| ())
    }

    /// Looks at the major type of the next item without consuming it.
    #[inline]
    pub fn peek_major(&self) -> Option<u8> {
        self.buf.get(self.pos).map(|b| b >> 5)
    }

    /// True (and consumed) when the next item is `null`.
    #[inline]
    pub fn take_null(&mut self) -> bool {
        if self.buf.get(self.pos) == Some(&0xf6) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads a map head and returns its number of entries.
    #[inline]
    pub fn map_len(&mut self) -> Result<u64, CborError> {
        match self.head()? {
            (MAJ_MAP, _, n) => Ok(n),
            _ => Err(CborError::Type { expected: "map" }),
        }
    }

    /// Reads an array head and returns its number of items.
    #[inline]
    pub fn array_len(&mut self) -> Result<u64, CborError> {
        match self.head()? {
            (MAJ_ARRAY, _, n) => Ok(n),
            _ => Err(CborError::Type { expected: "array" }),
        }
    }

    /// Reads a text string.
    #[inline]
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
    #[inline]
    pub fn opt_str(&mut self) -> Result<Option<&'a str>, CborError> {
        if self.take_null() {
            return Ok(None);
        }
        self.str().map(Some)
    }

    /// Reads a byte string.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        match self.head()? {
            (MAJ_BYTES, _, n) => self.take(n),
            _ => Err(CborError::Type { expected: "bytes" }),
        }
    }

    /// Reads an integer that fits in `i64`.
    #[inline]
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
    #[inline]
    pub fn bool(&mut self) -> Result<bool, CborError> {
        match self.byte()? {
            0xf4 => Ok(false),
            0xf5 => Ok(true),
            _ => Err(CborError::Type { expected: "bool" }),
        }
    }

    /// Reads a CID link (tag 42 over `0x00 ‖ cid`) and returns the raw CID bytes.
    #[inline]
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
            _ => Err(no_prefix()),
        }
    }

    /// Reads a CID link or `null`.
    #[inline]
    pub fn opt_cid_bytes(&mut self) -> Result<Option<&'a [u8]>, CborError> {
        if self.take_null() {
            return Ok(None);
        }
        self.cid_bytes().map(Some)
    }

    /// Skips one complete item of any type.
    #[inline]
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
                        return Err(CborError::NonStringKey);
                    }
                    self.skip_depth(depth + 1)?;
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            MAJ_TAG => {
                if arg != 42 {
                    return Err(CborError::Tag(arg));
                }
                let b = self.bytes()?;
                if b.first() != Some(&0) {
                    return Err(no_prefix());
                }
                Ok(())
            }
            _ => match (ai, arg) {
                (20..=22, _) => Ok(()),
                // 64-bit float: the only float DAG-CBOR allows; atproto forbids it in
                // records, but it is still well-formed, so skipping it is fine.
                (27, _) => Ok(()),
                _ => Err(CborError::Unsupported((MAJ_SIMPLE << 5) | ai)),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cbor::{Encoder, canonical_key_cmp};

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
            let mut w = Encoder::new();
            w.int(v);
            let out = w.into_bytes();
            let mut r = Reader::new(&out);
            assert_eq!(r.int().unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn indefinite_lengths_are_rejected() {
        let mut r = Reader::new(&[0x9f, 0x01, 0xff]);
        assert_eq!(r.skip(), Err(CborError::Indefinite));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let buf = vec![0x81u8; 100_000];
        assert_eq!(Reader::new(&buf).skip(), Err(CborError::TooDeep));
    }

    #[test]
    fn huge_declared_lengths_fail_cleanly() {
        let buf = [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert_eq!(Reader::new(&buf).skip(), Err(CborError::Truncated));
        let buf = [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(Reader::new(&buf).skip(), Err(CborError::Truncated));
    }

    #[test]
    fn cid_link_round_trips() {
        let cid = crate::cid_for_cbor(b"\xa0");
        let mut w = Encoder::new();
        w.link(&cid);
        let out = w.into_bytes();
        assert_eq!(&out[..5], &[0xd8, 0x2a, 0x58, 0x25, 0x00]);
        assert_eq!(Reader::new(&out).cid_bytes().unwrap(), cid.to_bytes());
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
