//! The identity error enum. Callers branch on it: transient network faults must never be
//! treated as evidence that a DID or handle is invalid.

/// Why a DID or handle could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Only did:plc and did:web are supported.
    #[error("unsupported DID method {0:?}")]
    UnsupportedMethod(String),
    /// The DID is syntactically fine but cannot be resolved by our rules (e.g. a did:web
    /// with a path or a port on a non-localhost host).
    #[error("unresolvable DID: {0}")]
    BadDid(String),
    /// The DID is not registered / the handle has no DID.
    #[error("not found: {0}")]
    NotFound(String),
    /// The DID was tombstoned ("DID not available" / 410): treat as deleted.
    #[error("DID not available (tombstoned): {0}")]
    Tombstoned(String),
    /// The document is malformed or its `id` is not the requested DID.
    #[error("invalid DID document: {0}")]
    InvalidDocument(String),
    /// Handle resolution returned something unusable (several DIDs, a malformed DID).
    #[error("invalid handle resolution: {0}")]
    InvalidHandle(String),
    /// The document has no usable `#atproto` key.
    #[error("DID document has no valid #atproto signing key")]
    NoSigningKey,
    /// The document has no `#atproto_pds` service.
    #[error("DID document has no #atproto_pds service")]
    NoPds,
    /// The target host is private/loopback/link-local or the scheme is not allowed.
    #[error("refused by SSRF guard: {0}")]
    Forbidden(String),
    /// Timeout, connection failure, 5xx, 429, DNS server failure: transient.
    #[error("network error: {0}")]
    Network(String),
}

impl IdentityError {
    /// True for faults that say nothing about the identity itself (retry later).
    pub fn is_transient(&self) -> bool {
        matches!(self, IdentityError::Network(_))
    }
}
