//! `AtUri`: `at://<did-or-handle>[/<nsid>[/<rkey>]]`, strict (no query, no fragment).

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;
use crate::{AtIdentifier, Nsid, RecordKey};

/// The longest AT-URI accepted.
const MAX_LEN: usize = 8192;

/// An AT-URI such as `at://did:plc:x/org.xmtp.inbox/self`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AtUri(String);

string_newtype!(AtUri);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::AtUri, reason)
}

impl AtUri {
    /// Parses an AT-URI: an authority that is a DID or handle, then optionally a collection
    /// NSID and a record key; no trailing slash, query or fragment.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        if s.len() > MAX_LEN {
            return Err(err("longer than 8192 characters"));
        }
        let rest = s
            .strip_prefix("at://")
            .ok_or_else(|| err("must start with \"at://\""))?;
        let mut parts = rest.split('/');
        let authority = parts.next().unwrap_or_default();
        AtIdentifier::parse(authority)
            .map_err(|_| err("the authority must be a DID or a handle"))?;
        if let Some(collection) = parts.next() {
            Nsid::parse(collection).map_err(|_| err("the collection must be an NSID"))?;
        }
        if let Some(rkey) = parts.next() {
            RecordKey::parse(rkey).map_err(|_| err("the record key is not valid"))?;
        }
        if parts.next().is_some() {
            return Err(err("at most authority, collection and record key"));
        }
        Ok(AtUri(s.to_owned()))
    }

    /// The authority (DID or handle) part.
    pub fn authority(&self) -> &str {
        self.0[5..].split('/').next().unwrap_or_default()
    }

    /// The collection, when present.
    pub fn collection(&self) -> Option<&str> {
        self.0[5..].split('/').nth(1)
    }

    /// The record key, when present.
    pub fn rkey(&self) -> Option<&str> {
        self.0[5..].split('/').nth(2)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_exposed() {
        let u = AtUri::parse("at://did:plc:abc/org.xmtp.inbox/self").unwrap();
        assert_eq!(u.authority(), "did:plc:abc");
        assert_eq!(u.collection(), Some("org.xmtp.inbox"));
        assert_eq!(u.rkey(), Some("self"));
    }
}
