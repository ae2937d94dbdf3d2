//! `AtIdentifier`: a DID or a handle, as taken by query parameters such as `actor`.

use std::fmt;
use std::str::FromStr;

use crate::error::{SyntaxError, SyntaxKind};
use crate::{Did, Handle};

/// Either a DID or a (lowercased) handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AtIdentifier {
    /// A DID.
    Did(Did),
    /// A handle.
    Handle(Handle),
}

impl AtIdentifier {
    /// Parses a DID when the string starts with `did:`, otherwise a handle.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        Ok(match AtIdentifierRef::parse(s)? {
            AtIdentifierRef::Did(did) => AtIdentifier::Did(Did::checked(did)),
            AtIdentifierRef::Handle(handle) => AtIdentifier::Handle(handle),
        })
    }

    /// The identifier as a string slice.
    pub fn as_str(&self) -> &str {
        match self {
            AtIdentifier::Did(d) => d.as_str(),
            AtIdentifier::Handle(h) => h.as_str(),
        }
    }
}

/// An [`AtIdentifier`] that borrows its DID from the parsed string (a handle is lowercased,
/// so owned): a batch of actors checked without a `String` per DID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtIdentifierRef<'a> {
    /// A DID, as given.
    Did(&'a str),
    /// A handle.
    Handle(Handle),
}

impl AtIdentifierRef<'_> {
    /// Parses `s` as [`AtIdentifier::parse`] does, with the same errors.
    pub fn parse(s: &str) -> Result<AtIdentifierRef<'_>, SyntaxError> {
        let with_kind = |e: SyntaxError| SyntaxError::new(SyntaxKind::AtIdentifier, e.reason);
        if s.starts_with("did:") {
            crate::did::check(s)
                .map(|()| AtIdentifierRef::Did(s))
                .map_err(with_kind)
        } else {
            Handle::parse(s)
                .map(AtIdentifierRef::Handle)
                .map_err(with_kind)
        }
    }
}

impl fmt::Display for AtIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AtIdentifier {
    type Err = SyntaxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AtIdentifier::parse(s)
    }
}

impl serde::Serialize for AtIdentifier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for AtIdentifier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        AtIdentifier::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl From<Did> for AtIdentifier {
    fn from(d: Did) -> Self {
        AtIdentifier::Did(d)
    }
}

impl From<Handle> for AtIdentifier {
    fn from(h: Handle) -> Self {
        AtIdentifier::Handle(h)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn did_prefix_selects_the_did_branch() {
        assert!(matches!(
            AtIdentifier::parse("did:plc:abc").unwrap(),
            AtIdentifier::Did(_)
        ));
        assert!(matches!(
            AtIdentifier::parse("Alice.Test").unwrap(),
            AtIdentifier::Handle(h) if h.as_str() == "alice.test"
        ));
    }

    #[test]
    fn the_borrowing_parse_agrees_with_the_owning_one() {
        let cases = [
            "did:plc:7iza6de2dwap2sbkpav7c6c6",
            "did:web:localhost%3A1234",
            "Alice.Test",
            "did:plc:",
            "did:PLC:x",
            "did:plc:x%",
            "did:plc:a b",
            "did:",
            "did",
            "alice",
            "",
            "-a.test",
        ];
        for s in cases {
            match (AtIdentifier::parse(s), AtIdentifierRef::parse(s)) {
                (Ok(AtIdentifier::Did(d)), Ok(AtIdentifierRef::Did(r))) => {
                    assert_eq!(d.as_str(), r);
                }
                (Ok(AtIdentifier::Handle(h)), Ok(AtIdentifierRef::Handle(r))) => {
                    assert_eq!(h, r);
                }
                (Err(e), Err(r)) => assert_eq!(e.to_string(), r.to_string(), "{s:?}"),
                (a, b) => panic!("{s:?}: {a:?} against {b:?}"),
            }
        }
    }
}
