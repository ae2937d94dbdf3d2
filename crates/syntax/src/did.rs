//! `Did`: `did:<method>:<id>` with the atproto character rules (no query, path or fragment).

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// The longest DID atproto accepts.
const MAX_LEN: usize = 2048;

/// A decentralised identifier, e.g. `did:plc:7iza6de2dwap2sbkpav7c6c6`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Did(String);

string_newtype!(Did);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::Did, reason)
}

impl Did {
    /// Parses a DID by the atproto rules: lowercase method, then an identifier of
    /// `[A-Za-z0-9._:%-]` that does not end in `:` or `%`, at most 2048 characters.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(Did::checked(s))
    }

    /// A DID that [`check`] accepted.
    pub(crate) fn checked(s: &str) -> Self {
        Did(s.to_owned())
    }

    /// The method name (`plc`, `web`, ...).
    pub fn method(&self) -> &str {
        self.0[4..].split(':').next().unwrap_or_default()
    }

    /// Everything after `did:<method>:`.
    pub fn identifier(&self) -> &str {
        let rest = &self.0[4..];
        rest.split_once(':').map(|(_, id)| id).unwrap_or_default()
    }
}

/// The bytes a DID identifier may hold: `[A-Za-z0-9._:%-]`, one table lookup per byte.
static ID_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'%' | b'-');
        b += 1;
    }
    t
};

/// Validates DID syntax without allocating.
pub(crate) fn check(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_LEN {
        return Err(err("longer than 2048 characters"));
    }
    let rest = s
        .strip_prefix("did:")
        .ok_or_else(|| err("must start with \"did:\""))?;
    // A byte loop: the method is a few letters, shorter than a search's set-up.
    let colon = rest
        .bytes()
        .position(|b| b == b':')
        .ok_or_else(|| err("must have the form did:<method>:<identifier>"))?;
    let (method, id) = (&rest[..colon], &rest[colon + 1..]);
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(err("method must be lowercase letters"));
    }
    let last = id
        .bytes()
        .last()
        .ok_or_else(|| err("identifier is empty"))?;
    // `&` rather than a short-circuit: no branch per byte, and a valid DID reads every byte.
    if !id.bytes().fold(true, |ok, b| ok & ID_BYTE[usize::from(b)]) {
        return Err(err("identifier may hold only letters, digits and ._:%-"));
    }
    if matches!(last, b':' | b'%') {
        return Err(err("identifier must not end with ':' or '%'"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn method_and_identifier_are_split_at_the_first_colons() {
        let did = Did::parse("did:web:localhost%3A1234:u:x").unwrap();
        assert_eq!(did.method(), "web");
        assert_eq!(did.identifier(), "localhost%3A1234:u:x");
    }

    #[test]
    fn the_identifier_table_takes_exactly_the_atproto_characters() {
        for b in 0u8..=255 {
            let want = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-');
            assert_eq!(ID_BYTE[usize::from(b)], want, "byte {b:#x}");
            let mut id = vec![b'a', b];
            id.push(b'z');
            if let Ok(id) = String::from_utf8(id) {
                assert_eq!(check(&format!("did:plc:{id}")).is_ok(), want, "byte {b:#x}");
            }
        }
    }

    #[test]
    fn error_message_names_the_kind() {
        let e = Did::parse("DID:plc:x").unwrap_err();
        assert!(e.to_string().starts_with("invalid DID:"), "{e}");
    }
}
