//! Query-string parameters the XRPC way: `name=value` pairs, arrays as repeated names,
//! percent-decoded, with typed getters that fail as `InvalidRequest` with a useful message.

use std::borrow::Cow;

use crate::error::XrpcError;

/// The decoded parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every byte of `x` that equals `c`, and of no other byte (exact: no
/// borrow runs from one byte into the next).
#[inline]
fn bytes_equal(x: u64, c: u8) -> u64 {
    let y = x ^ (ONES * u64::from(c));
    !(((y & LOW7).wrapping_add(LOW7)) | y | LOW7)
}

/// The 8 bytes at `at` as a little-endian word.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Whether `s` holds a `%` or a `+` (anything to decode), 8 bytes at a time.
fn is_encoded(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let word = word_at(bytes, at);
        if bytes_equal(word, b'%') | bytes_equal(word, b'+') != 0 {
            return true;
        }
        at += 8;
    }
    bytes[at..].iter().any(|&b| b == b'%' || b == b'+')
}

/// Percent-decodes one component (`+` is a space); borrows when nothing is encoded.
fn decode(s: &str) -> Result<Cow<'_, str>, XrpcError> {
    if !is_encoded(s) {
        return Ok(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = b
                    .get(i + 1)
                    .and_then(|h| hex(*h))
                    .zip(b.get(i + 2).and_then(|l| hex(*l)))
                    .map(|(h, l)| (h << 4) | l)
                    .ok_or_else(|| {
                        XrpcError::InvalidRequest("malformed percent-encoding in the query".into())
                    })?;
                out.push(byte);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| XrpcError::InvalidRequest("query parameters must be UTF-8".into()))
}

impl<'a> Params<'a> {
    /// Parses a raw query string (without the `?`). One scan of the whole string decides
    /// whether any component needs decoding (a batch of plain DIDs: none), so the common
    /// case borrows every pair without a scan of each.
    pub(crate) fn parse(query: Option<&'a str>) -> Result<Params<'a>, XrpcError> {
        let query = query.unwrap_or("");
        let encoded = is_encoded(query);
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if encoded {
                pairs.push((decode(k)?, decode(v)?));
            } else {
                pairs.push((Cow::Borrowed(k), Cow::Borrowed(v)));
            }
        }
        Ok(Params { pairs })
    }

    /// Every value of `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
            .collect()
    }

    /// The single value of `name`; repeated is an error.
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, XrpcError> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_ref());
        if values.next().is_some() {
            return Err(XrpcError::InvalidRequest(format!(
                "parameter {name} given more than once"
            )));
        }
        Ok(first)
    }

    /// A required single value.
    pub(crate) fn required(&self, name: &str) -> Result<&str, XrpcError> {
        self.one(name)?
            .ok_or_else(|| XrpcError::InvalidRequest(format!("parameter {name} is required")))
    }

    /// A boolean: exactly `true` or `false`, else `default` when absent.
    pub(crate) fn boolean(&self, name: &str, default: bool) -> Result<bool, XrpcError> {
        match self.one(name)? {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(XrpcError::InvalidRequest(format!(
                "parameter {name} must be true or false, not {other:?}"
            ))),
        }
    }

    /// An integer in `min..=max`, else `default` when absent.
    pub(crate) fn integer(
        &self,
        name: &str,
        min: i64,
        max: i64,
        default: i64,
    ) -> Result<i64, XrpcError> {
        let Some(raw) = self.one(name)? else {
            return Ok(default);
        };
        let n: i64 = raw.parse().map_err(|_| {
            XrpcError::InvalidRequest(format!("parameter {name} must be an integer, not {raw:?}"))
        })?;
        if n < min || n > max {
            return Err(XrpcError::InvalidRequest(format!(
                "parameter {name} must be between {min} and {max}"
            )));
        }
        Ok(n)
    }

    /// An array of 1..=`max` values.
    pub(crate) fn array(&self, name: &str, max: usize) -> Result<Vec<&str>, XrpcError> {
        let values = self.all(name);
        if values.is_empty() {
            return Err(XrpcError::InvalidRequest(format!(
                "parameter {name} is required (repeat it for several values)"
            )));
        }
        if values.len() > max {
            return Err(XrpcError::InvalidRequest(format!(
                "parameter {name} takes at most {max} values, got {}",
                values.len()
            )));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_form_arrays_and_values_are_decoded() {
        let p = Params::parse(Some("a=1&a=x%3Ay&b=c+d&flag")).unwrap();
        assert_eq!(p.all("a"), vec!["1", "x:y"]);
        assert_eq!(p.one("b").unwrap(), Some("c d"));
        assert_eq!(p.one("flag").unwrap(), Some(""));
        assert!(p.one("a").is_err());
        assert!(Params::parse(Some("a=%zz")).is_err());
        assert!(Params::parse(Some("a=%ff")).is_err());
        assert!(Params::parse(Some("a=%4")).is_err());
    }

    #[test]
    fn the_word_check_finds_percent_and_plus_anywhere() {
        for b in 0u8..=255 {
            for len in 0..20 {
                for pos in 0..len {
                    let mut s = vec![b'a'; len];
                    s[pos] = b;
                    let Ok(s) = String::from_utf8(s) else {
                        continue;
                    };
                    assert_eq!(is_encoded(&s), b == b'%' || b == b'+', "{s:?}");
                }
            }
        }
        assert!(!is_encoded(""));
    }

    #[test]
    fn plain_and_encoded_queries_give_the_same_pairs() {
        let plain = Params::parse(Some("a=did:plc:x&&a=y&flag&b=")).unwrap();
        let encoded = Params::parse(Some("a=did%3Aplc%3Ax&&a=y&flag&b=&c=+")).unwrap();
        assert_eq!(plain.all("a"), vec!["did:plc:x", "y"]);
        assert_eq!(encoded.all("a"), plain.all("a"));
        assert_eq!(plain.one("flag").unwrap(), Some(""));
        assert_eq!(encoded.one("b").unwrap(), Some(""));
        assert_eq!(encoded.one("c").unwrap(), Some(" "));
        assert!(matches!(plain.pairs[0].1, Cow::Borrowed(_)));
    }

    #[test]
    fn typed_getters_check_their_ranges() {
        let p = Params::parse(Some("n=5&b=TRUE&big=99999999999999999999")).unwrap();
        assert_eq!(p.integer("n", 1, 10, 3).unwrap(), 5);
        assert_eq!(p.integer("missing", 1, 10, 3).unwrap(), 3);
        assert!(p.integer("n", 6, 10, 7).is_err());
        assert!(p.integer("big", 1, 10, 3).is_err());
        assert!(p.boolean("b", false).is_err());
        assert!(!p.boolean("missing", false).unwrap());
    }
}
