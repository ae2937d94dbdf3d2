//! `Uri`: a generic URI (the lexicon `uri` string format), checked by shape only.

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// The longest URI accepted, in bytes.
const MAX_LEN: usize = 8 * 1024;
/// The longest scheme accepted.
const MAX_SCHEME: usize = 81;

/// A URI as atproto checks it: a scheme (a lowercase letter, then up to 80 lowercase letters,
/// `.` or `-`), a `:`, then one or more printable non-space ASCII characters; at most 8 KiB.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uri(String);

string_newtype!(Uri);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::Uri, reason)
}

impl Uri {
    /// Parses a URI (see the type's documentation for the rules).
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(Uri(s.to_owned()))
    }

    /// The scheme, before the first `:` (`https` in `https://example.com`).
    pub fn scheme(&self) -> &str {
        self.0.split_once(':').map(|(s, _)| s).unwrap_or_default()
    }
}

fn check(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_LEN {
        return Err(err("longer than 8 KiB"));
    }
    let Some((scheme, rest)) = s.split_once(':') else {
        return Err(err("needs a scheme and a ':'"));
    };
    let b = scheme.as_bytes();
    if b.is_empty() || b.len() > MAX_SCHEME || !b[0].is_ascii_lowercase() {
        return Err(err(
            "the scheme is 1 to 81 characters and starts with a lowercase letter",
        ));
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || *c == b'.' || *c == b'-')
    {
        return Err(err(
            "the scheme may hold only lowercase letters, '.' and '-'",
        ));
    }
    if rest.is_empty() {
        return Err(err("nothing after the scheme"));
    }
    if !rest.bytes().all(|c| c.is_ascii_graphic()) {
        return Err(err("only printable ASCII without spaces after the scheme"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scheme_is_the_part_before_the_first_colon() {
        assert_eq!(Uri::parse("at://did:plc:abc/x").unwrap().scheme(), "at");
        assert_eq!(
            Uri::parse("https://a.test/ b").unwrap_err().reason,
            "only printable ASCII without spaces after the scheme"
        );
    }
}
