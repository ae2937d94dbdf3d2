//! The bounded zero-copy DAG-CBOR reader. See the module docs of [`crate::cbor`] for the
//! leniency policy.

use cid::Cid;

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
    let mut r = Reader {
        buf: bytes,
        pos: 0,
        items: 0,
        limits: *limits,
        canonical: true,
    };
    let value = r.value(0)?;
    Ok((
        Decoded {
            value,
            canonical: r.canonical,
        },
        &bytes[r.pos..],
    ))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    items: usize,
    limits: Limits,
    canonical: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self.pos.checked_add(n).ok_or(CborError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        Ok(self.take(1)?[0])
    }

    fn non_canonical(&mut self, err: CborError) -> Result<(), CborError> {
        self.canonical = false;
        if self.limits.mode == Mode::Strict {
            Err(err)
        } else {
            Ok(())
        }
    }

    /// Reads the argument of a head with additional info `info`.
    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let (v, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (u64::from(self.byte()?), 24),
            25 => {
                let b = self.take(2)?;
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 0x100)
            }
            26 => {
                let b = self.take(4)?;
                (
                    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    0x1_0000,
                )
            }
            27 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 0x1_0000_0000)
            }
            31 => return Err(CborError::Indefinite),
            _ => return Err(CborError::Unsupported(info)),
        };
        if v < min {
            self.non_canonical(CborError::NonMinimal)?;
        }
        Ok(v)
    }

    fn length(&mut self, info: u8) -> Result<usize, CborError> {
        let n = self.argument(info)?;
        // A length can never exceed the remaining input (each item is at least one byte).
        let n = usize::try_from(n).map_err(|_| CborError::Truncated)?;
        if n > self.buf.len() - self.pos {
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

    fn text(&mut self, info: u8) -> Result<&'a str, CborError> {
        let n = self.length(info)?;
        std::str::from_utf8(self.take(n)?).map_err(|_| CborError::Utf8)
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, CborError> {
        self.count_item()?;
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        match major {
            0 => Ok(Value::Int(i128::from(self.argument(info)?))),
            1 => Ok(Value::Int(-1 - i128::from(self.argument(info)?))),
            2 => {
                let n = self.length(info)?;
                Ok(Value::Bytes(self.take(n)?))
            }
            3 => Ok(Value::Text(self.text(info)?)),
            4 => {
                if depth >= self.limits.max_depth {
                    return Err(CborError::TooDeep);
                }
                let n = self.length(info)?;
                let mut items = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            5 => self.map(info, depth),
            6 => {
                let tag = self.argument(info)?;
                if tag != 42 {
                    return Err(CborError::Tag(tag));
                }
                let head = self.byte()?;
                if head >> 5 != 2 {
                    return Err(CborError::BadLink(
                        "tag 42 content is not a byte string".into(),
                    ));
                }
                let n = self.length(head & 0x1f)?;
                let bytes = self.take(n)?;
                match bytes.split_first() {
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
                    let f = match info {
                        25 => {
                            let b = self.take(2)?;
                            half_to_f64(u16::from_be_bytes([b[0], b[1]]))
                        }
                        26 => {
                            let b = self.take(4)?;
                            f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                        }
                        _ => {
                            let b = self.take(8)?;
                            let mut a = [0u8; 8];
                            a.copy_from_slice(b);
                            f64::from_be_bytes(a)
                        }
                    };
                    Ok(Value::Float(f))
                }
                31 => Err(CborError::Indefinite),
                _ => Err(CborError::Unsupported(head)),
            },
        }
    }

    fn map(&mut self, info: u8, depth: usize) -> Result<Value<'a>, CborError> {
        if depth >= self.limits.max_depth {
            return Err(CborError::TooDeep);
        }
        let n = self.length(info)?;
        let mut entries: Vec<(&'a str, Value<'a>)> = Vec::with_capacity(n.min(64));
        let mut sorted = true;
        for _ in 0..n {
            let head = self.byte()?;
            if head >> 5 != 3 {
                return Err(CborError::NonStringKey);
            }
            let key = self.text(head & 0x1f)?;
            if let Some((prev, _)) = entries.last() {
                let ordered = (prev.len(), prev.as_bytes()) < (key.len(), key.as_bytes());
                if !ordered {
                    if *prev == key {
                        return Err(CborError::DuplicateKey(key.to_string()));
                    }
                    sorted = false;
                    self.non_canonical(CborError::KeyOrder)?;
                }
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
