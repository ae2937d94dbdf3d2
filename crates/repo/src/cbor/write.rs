//! Canonical DAG-CBOR writer: minimal heads, keys sorted by length then bytes, CIDs as tag 42.

use cid::Cid;

use super::read::{CborError, Value};

/// Appends canonical DAG-CBOR items to a buffer. Callers writing maps by hand must emit
/// keys in canonical order themselves (length first, then bytewise).
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// A new empty encoder.
    pub fn new() -> Self {
        Self::default()
    }
    /// A new encoder with capacity.
    pub fn with_capacity(n: usize) -> Self {
        Encoder {
            buf: Vec::with_capacity(n),
        }
    }
    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn head(&mut self, major: u8, v: u64) {
        let m = major << 5;
        if v < 24 {
            self.buf.push(m | v as u8);
        } else if v <= 0xff {
            self.buf.extend_from_slice(&[m | 24, v as u8]);
        } else if v <= 0xffff {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Writes an unsigned integer.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.head(0, v);
        self
    }
    /// Writes a signed integer.
    pub fn int(&mut self, v: i64) -> &mut Self {
        if v >= 0 {
            self.head(0, v as u64);
        } else {
            self.head(1, (-1 - v) as u64);
        }
        self
    }
    /// Writes a byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }
    /// Writes a text string.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }
    /// Writes an array head of `n` items.
    pub fn array(&mut self, n: usize) -> &mut Self {
        self.head(4, n as u64);
        self
    }
    /// Writes a map head of `n` entries.
    pub fn map(&mut self, n: usize) -> &mut Self {
        self.head(5, n as u64);
        self
    }
    /// Writes `null`.
    pub fn null(&mut self) -> &mut Self {
        self.buf.push(0xf6);
        self
    }
    /// Writes a boolean.
    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.buf.push(if b { 0xf5 } else { 0xf4 });
        self
    }
    /// Writes a CID link (tag 42, `0x00` + binary CID).
    pub fn link(&mut self, cid: &Cid) -> &mut Self {
        let len = cid.encoded_len();
        self.buf.extend_from_slice(&[0xd8, 42]);
        self.head(2, len as u64 + 1);
        self.buf.push(0);
        // Writing into a Vec cannot fail.
        let _ = cid.write_bytes(&mut self.buf);
        self
    }
    /// Writes a text string or `null`.
    pub fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }
    /// Writes a link or `null`.
    pub fn opt_link(&mut self, cid: Option<&Cid>) -> &mut Self {
        match cid {
            Some(c) => self.link(c),
            None => self.null(),
        }
    }

    /// Writes any [`Value`], sorting map keys canonically. Integers outside the 64-bit CBOR
    /// range and non-finite floats are errors.
    pub fn value(&mut self, v: &Value<'_>) -> Result<&mut Self, CborError> {
        match v {
            Value::Null => {
                self.null();
            }
            Value::Bool(b) => {
                self.bool(*b);
            }
            Value::Int(i) => {
                if *i >= 0 {
                    self.head(0, u64::try_from(*i).map_err(|_| CborError::Unsupported(0))?);
                } else {
                    self.head(
                        1,
                        u64::try_from(-1 - *i).map_err(|_| CborError::Unsupported(0x20))?,
                    );
                }
            }
            Value::Float(f) => {
                if !f.is_finite() {
                    return Err(CborError::Float);
                }
                self.buf.push(0xfb);
                self.buf.extend_from_slice(&f.to_be_bytes());
            }
            Value::Bytes(b) => {
                self.bytes(b);
            }
            Value::Text(s) => {
                self.text(s);
            }
            Value::Array(items) => {
                self.array(items.len());
                for item in items {
                    self.value(item)?;
                }
            }
            Value::Map(m) => {
                let mut entries: Vec<&(&str, Value<'_>)> = m.0.iter().collect();
                entries.sort_by(|a, b| canonical_key_cmp(a.0, b.0));
                self.map(entries.len());
                for (k, val) in entries {
                    self.text(k);
                    self.value(val)?;
                }
            }
            Value::Link(c) => {
                self.link(c);
            }
        }
        Ok(self)
    }
}

/// DAG-CBOR's canonical map key order: length first, then bytes.
pub fn canonical_key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// Encodes a [`Value`] as canonical DAG-CBOR.
pub fn encode(v: &Value<'_>) -> Result<Vec<u8>, CborError> {
    let mut e = Encoder::new();
    e.value(v)?;
    Ok(e.into_bytes())
}

/// Encodes a serde value as canonical DAG-CBOR via `serde_ipld_dagcbor` (for devnet records).
pub fn to_dagcbor<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, CborError> {
    serde_ipld_dagcbor::to_vec(v).map_err(|e| CborError::Serde(e.to_string()))
}
