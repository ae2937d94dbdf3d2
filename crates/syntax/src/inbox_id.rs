//! `InboxId`: an XMTP inbox ID, the hex SHA-256 that names an inbox (exactly 64 lowercase hex).

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// An XMTP inbox ID: exactly 64 lowercase hexadecimal characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboxId(String);

string_newtype!(InboxId);

impl InboxId {
    /// Parses an inbox ID; uppercase hex is refused, not folded, so one inbox has one spelling.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        if s.len() != 64 {
            return Err(SyntaxError::new(
                SyntaxKind::InboxId,
                "must be exactly 64 hexadecimal characters",
            ));
        }
        if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(SyntaxError::new(
                SyntaxKind::InboxId,
                "must be lowercase hexadecimal (0-9, a-f)",
            ));
        }
        Ok(InboxId(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_64_lowercase_hex_is_an_inbox_id() {
        let ok = "a".repeat(64);
        assert!(InboxId::parse(&ok).is_ok());
        assert!(InboxId::parse(&"A".repeat(64)).is_err());
        assert!(InboxId::parse(&"a".repeat(63)).is_err());
        assert!(InboxId::parse(&"a".repeat(65)).is_err());
        assert!(InboxId::parse(&format!("{}g", "a".repeat(63))).is_err());
        assert!(InboxId::parse("").is_err());
    }
}
