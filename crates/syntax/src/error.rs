//! The one error type of this crate: which kind of identifier failed and why.

use std::fmt;

/// The kind of identifier that failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyntaxKind {
    /// A DID (`did:method:id`).
    Did,
    /// A handle (DNS name).
    Handle,
    /// A DID or a handle.
    AtIdentifier,
    /// A namespaced identifier.
    Nsid,
    /// A record key.
    RecordKey,
    /// A timestamp identifier.
    Tid,
    /// An RFC 3339 / ISO 8601 datetime in the atproto profile.
    Datetime,
    /// An `at://` URI.
    AtUri,
    /// A CID in string form.
    Cid,
    /// An XMTP inbox ID.
    InboxId,
    /// A BCP 47 language tag.
    Language,
    /// A generic URI.
    Uri,
}

impl SyntaxKind {
    /// A short human name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            SyntaxKind::Did => "DID",
            SyntaxKind::Handle => "handle",
            SyntaxKind::AtIdentifier => "DID or handle",
            SyntaxKind::Nsid => "NSID",
            SyntaxKind::RecordKey => "record key",
            SyntaxKind::Tid => "TID",
            SyntaxKind::Datetime => "datetime",
            SyntaxKind::AtUri => "AT-URI",
            SyntaxKind::Cid => "CID",
            SyntaxKind::InboxId => "inbox ID",
            SyntaxKind::Language => "language tag",
            SyntaxKind::Uri => "URI",
        }
    }
}

impl fmt::Display for SyntaxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that is not a valid identifier of `kind`; `reason` says which rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct SyntaxError {
    /// What was being parsed.
    pub kind: SyntaxKind,
    /// The rule that failed, as a sentence fragment for humans.
    pub reason: &'static str,
}

impl SyntaxError {
    pub(crate) fn new(kind: SyntaxKind, reason: &'static str) -> Self {
        SyntaxError { kind, reason }
    }
}
