//! The bounded zero-copy DAG-CBOR value decoder, on top of the [`Reader`] cursor. See the
//! module docs of [`crate::cbor`] for the leniency policy.

use cid::Cid;

use super::cursor::{MAJ_ARRAY, MAJ_BYTES, MAJ_MAP, MAJ_NINT, MAJ_TAG, MAJ_TEXT, MAJ_UINT, Reader};
use crate::cid_util::read_cid_prefix;

/// How strictly to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accept non-canonical key order, non-minimal encodings and floats.
    Lenient,
    /// DRISL: canonical key order, minimal encodings, no floats.
    Strict,
}

/// Resource bounds for decoding untrusted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting depth of arrays and maps.
    pub max_depth: usize,
    /// Maximum total number of items (values, counting map keys once per entry).
    pub max_items: usize,
    /// Leniency.
    pub mode: Mode,
}

impl Limits {
    /// Lenient limits for records (depth 32, 100k items).
    pub const RECORD: Limits = Limits {
        max_depth: 32,
        max_items: 100_000,
        mode: Mode::Lenient,
    };
    /// Strict DRISL with the same bounds.
    pub const STRICT: Limits = Limits {
        max_depth: 32,
        max_items: 100_000,
        mode: Mode::Strict,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::RECORD
    }
}

/// Why a CBOR item was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    /// Input ended inside an item.
    #[error("truncated CBOR")]
    Truncated,
    /// Bytes remain after the item.
    #[error("trailing bytes after CBOR item")]
    TrailingBytes,
    /// Nesting deeper than the limit.
    #[error("CBOR nesting too deep")]
    TooDeep,
    /// More items than the limit.
    #[error("too many CBOR items")]
    TooManyItems,
    /// Indefinite-length item.
    #[error("indefinite-length CBOR is not allowed")]
    Indefinite,
    /// A float (strict mode only).
    #[error("floats are not allowed")]
    Float,
    /// Map key that is not a text string.
    #[error("map key is not a string")]
    NonStringKey,
    /// The same key twice in a map.
    #[error("duplicate map key {0:?}")]
    DuplicateKey(String),
    /// Keys out of canonical order (strict mode only).
    #[error("map keys not in canonical order")]
    KeyOrder,
    /// Non-minimal integer or length (strict mode only).
    #[error("non-minimal CBOR encoding")]
    NonMinimal,
    /// Text string that is not UTF-8.
    #[error("invalid UTF-8 in text string")]
    Utf8,
    /// A tag other than 42.
    #[error("unsupported CBOR tag {0}")]
    Tag(u64),
    /// Tag 42 whose content is not `0x00` + a valid binary CID.
    #[error("malformed CID link: {0}")]
    BadLink(String),
    /// Undefined, a reserved simple value or another unsupported head byte.
    #[error("unsupported CBOR simple value or head byte {0:#x}")]
    Unsupported(u8),
    /// Error from `serde_ipld_dagcbor` when decoding a typed value.
    #[error("DAG-CBOR: {0}")]
    Serde(String),
    /// The item has another type than the one a [`Reader`] caller expected.
    #[error("unexpected CBOR type: expected {expected}")]
    Type {
        /// What the caller wanted.
        expected: &'static str,
    },
    /// An integer does not fit in an `i64` ([`Reader::int`]).
    #[error("CBOR integer out of range")]
    IntRange,
}

/// A decoded CBOR map: entries in encounter order (keys unique).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map<'a>(pub Vec<(&'a str, Value<'a>)>);

impl<'a> Map<'a> {
    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
    /// The text value for `key`, if present and a string.
    pub fn get_str(&self, key: &str) -> Option<&'a str> {
        match self.get(key) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A decoded DAG-CBOR value borrowing strings and bytes from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any CBOR integer (-2^64 ..= 2^64-1).
    Int(i128),
    /// A float (lenient mode only).
    Float(f64),
    /// A byte string.
    Bytes(&'a [u8]),
    /// A text string.
    Text(&'a str),
    /// An array.
    Array(Vec<Value<'a>>),
    /// A map with string keys.
    Map(Map<'a>),
    /// A CID link (tag 42).
    Link(Cid),
}

impl<'a> Value<'a> {
    /// The map, if this is a map.
    pub fn as_map(&self) -> Option<&Map<'a>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// A decoded item plus whether its encoding was canonical DRISL.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a> {
    /// The value.
    pub value: Value<'a>,
    /// True when key order, integer/length encodings and the absence of floats are all canonical.
    pub canonical: bool,
}

/// Decodes exactly one item from `bytes` (trailing bytes are an error).
pub fn decode<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Decoded<'a>, CborError> {
    let (decoded, rest) = decode_prefix(bytes, limits)?;
    if rest.is_empty() {
        Ok(decoded)
    } else {
        Err(CborError::TrailingBytes)
    }
}

/// Decodes one item from the front of `bytes`, returning it and the remaining bytes.
pub fn decode_prefix<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<(Decoded<'a>, &'a [u8]), CborError> {
    let mut d = Tree {
        r: Reader::new(bytes),
        items: 0,
        limits: *limits,
        canonical: true,
    };
    let value = d.value(0)?;
    Ok((
        Decoded {
            value,
            canonical: d.canonical,
        },
        d.r.rest(),
    ))
}

/// The value-tree walk: the cursor plus the item budget and the canonical-form verdict.
struct Tree<'a> {
    r: Reader<'a>,
    items: usize,
    limits: Limits,
    canonical: bool,
}

/// True when a head's argument used the shortest form.
fn minimal(info: u8, arg: u64) -> bool {
    match info {
        24 => arg >= 24,
        25 => arg >= 0x100,
        26 => arg >= 0x1_0000,
        27 => arg >= 0x1_0000_0000,
        _ => true,
    }
}

impl<'a> Tree<'a> {
    fn non_canonical(&mut self, err: CborError) -> Result<(), CborError> {
        self.canonical = false;
        if self.limits.mode == Mode::Strict {
            Err(err)
        } else {
            Ok(())
        }
    }

    /// Reads a head (not a float or simple value), noting a non-minimal argument.
    fn head(&mut self) -> Result<(u8, u8, u64), CborError> {
        let (major, info, arg) = self.r.head()?;
        if major < 7 && !minimal(info, arg) {
            self.non_canonical(CborError::NonMinimal)?;
        }
        Ok((major, info, arg))
    }

    /// A length that cannot exceed the remaining input (each item is at least one byte).
    fn length(&self, n: u64) -> Result<usize, CborError> {
        let n = usize::try_from(n).map_err(|_| CborError::Truncated)?;
        if n > self.r.rest().len() {
            return Err(CborError::Truncated);
        }
        Ok(n)
    }

    fn count_item(&mut self) -> Result<(), CborError> {
        self.items += 1;
        if self.items > self.limits.max_items {
            Err(CborError::TooManyItems)
        } else {
            Ok(())
        }
    }

    fn text(&mut self, n: u64) -> Result<&'a str, CborError> {
        std::str::from_utf8(self.r.take(n)?).map_err(|_| CborError::Utf8)
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, CborError> {
        self.count_item()?;
        let (major, info, arg) = self.head()?;
        match major {
            MAJ_UINT => Ok(Value::Int(i128::from(arg))),
            MAJ_NINT => Ok(Value::Int(-1 - i128::from(arg))),
            MAJ_BYTES => Ok(Value::Bytes(self.r.take(arg)?)),
            MAJ_TEXT => Ok(Value::Text(self.text(arg)?)),
            MAJ_ARRAY => {
                if depth >= self.limits.max_depth {
                    return Err(CborError::TooDeep);
                }
                let n = self.length(arg)?;
                let mut items = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            MAJ_MAP => self.map(arg, depth),
            MAJ_TAG => {
                if arg != 42 {
                    return Err(CborError::Tag(arg));
                }
                let (major, _, n) = self.head()?;
                if major != MAJ_BYTES {
                    return Err(CborError::BadLink(
                        "tag 42 content is not a byte string".into(),
                    ));
                }
                match self.r.take(n)?.split_first() {
                    Some((0, cid_bytes)) => {
                        let (cid, used) = read_cid_prefix(cid_bytes)
                            .map_err(|e| CborError::BadLink(e.to_string()))?;
                        if used != cid_bytes.len() {
                            return Err(CborError::BadLink("trailing bytes after CID".into()));
                        }
                        Ok(Value::Link(cid))
                    }
                    _ => Err(CborError::BadLink("missing 0x00 multibase prefix".into())),
                }
            }
            _ => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 => Ok(Value::Null),
                25..=27 => {
                    self.non_canonical(CborError::Float)?;
                    // The cursor read the float's bits as the head's argument.
                    Ok(Value::Float(match info {
                        25 => half_to_f64(arg as u16),
                        26 => f64::from(f32::from_bits(arg as u32)),
                        _ => f64::from_bits(arg),
                    }))
                }
                _ => Err(CborError::Unsupported(0xe0 | info)),
            },
        }
    }

    fn map(&mut self, n: u64, depth: usize) -> Result<Value<'a>, CborError> {
        if depth >= self.limits.max_depth {
            return Err(CborError::TooDeep);
        }
        let n = self.length(n)?;
        let mut entries: Vec<(&'a str, Value<'a>)> = Vec::with_capacity(n.min(64));
        let mut sorted = true;
        for _ in 0..n {
            let (major, _, len) = self.head()?;
            if major != MAJ_TEXT {
                return Err(CborError::NonStringKey);
            }
            let key = self.text(len)?;
            if let Some((prev, _)) = entries.last()
                && super::canonical_key_cmp(prev, key).is_ge()
            {
                if *prev == key {
                    return Err(CborError::DuplicateKey(key.to_string()));
                }
                sorted = false;
                self.non_canonical(CborError::KeyOrder)?;
            }
            let value = self.value(depth + 1)?;
            entries.push((key, value));
        }
        if !sorted {
            // Out of canonical order: neighbour comparison no longer proves uniqueness.
            let mut keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
            keys.sort_unstable();
            if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
                return Err(CborError::DuplicateKey(w[0].to_string()));
            }
        }
        Ok(Value::Map(Map(entries)))
    }
}

fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f64::from(h & 0x3ff);
    match exp {
        0 => sign * mant * 2f64.powi(-24),
        31 if mant == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + mant / 1024.0) * 2f64.powi(exp - 15),
    }
}
