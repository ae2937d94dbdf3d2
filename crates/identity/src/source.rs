//! The one identity trait: what the rest of the workspace asks of identity (a DID's signing
//! key, its PDS, its handle verified both ways), object-safe so that a caller can hold a
//! `dyn IdentitySource`. [`Resolver`] is the production implementation; [`StaticIdentity`]
//! is a fixed map for tests, benches and fixture replays.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use repo::PublicKey;
use syntax::{Did, Handle};

use crate::{IdentityError, Resolver};

/// A boxed, sendable future (the trait below must be usable as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a lookup gave no answer: permanent ([`LookupError::NotFound`]) or transient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// Permanent: the DID (or record) definitely does not exist or has no usable key/PDS.
    #[error("not found: {0}")]
    NotFound(String),
    /// Network or server trouble: retry later; never evidence against a record.
    #[error("transient failure: {0}")]
    Transient(String),
}

impl LookupError {
    /// Whether a retry may succeed (never evidence).
    pub fn is_transient(&self) -> bool {
        matches!(self, LookupError::Transient(_))
    }
}

impl From<IdentityError> for LookupError {
    fn from(e: IdentityError) -> Self {
        if e.is_transient() {
            LookupError::Transient(e.to_string())
        } else {
            LookupError::NotFound(e.to_string())
        }
    }
}

/// Identity lookups by DID (parsed by the caller, at its edge).
pub trait IdentitySource: Send + Sync + 'static {
    /// The DID's current `#atproto` signing key. `refresh` bypasses (and replaces) any
    /// cached DID document, for a retry after a signature failure (key rotation).
    fn signing_key<'a>(
        &'a self,
        did: &'a Did,
        refresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, LookupError>>;

    /// The DID's PDS base URL (`#atproto_pds` service endpoint).
    fn pds_endpoint<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<String, LookupError>>;

    /// Invalidates the cached DID document (an `#identity` event), re-resolves it and
    /// returns the handle verified in both directions, or `None`.
    fn refresh_handle<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<Handle>, LookupError>>;

    /// The handle verified in both directions (handle → DID and DID document → handle), or
    /// `None`; may answer from a cache. The default re-resolves ([`Self::refresh_handle`]).
    fn verified_handle<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<Handle>, LookupError>> {
        self.refresh_handle(did)
    }
}

impl IdentitySource for Resolver {
    fn signing_key<'a>(
        &'a self,
        did: &'a Did,
        refresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, LookupError>> {
        Box::pin(async move {
            if refresh {
                self.refresh_did(did).await?;
            }
            Ok(Resolver::signing_key(self, did).await?)
        })
    }

    fn pds_endpoint<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(async move { Ok(self.pds(did).await?) })
    }

    fn refresh_handle<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<Handle>, LookupError>> {
        Box::pin(async move {
            self.invalidate(did);
            IdentitySource::verified_handle(self, did).await
        })
    }

    fn verified_handle<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<Handle>, LookupError>> {
        Box::pin(async move { Ok(Resolver::verified_handle(self, did).await?) })
    }
}

/// One account in a [`StaticIdentity`].
#[derive(Debug, Clone)]
pub struct StaticAccount {
    /// Signing key.
    pub key: PublicKey,
    /// PDS base URL.
    pub pds: String,
    /// Verified handle (as text: a test may name one that does not parse, which then
    /// reads as a permanent lookup failure).
    pub handle: Option<String>,
}

/// A fixed map of accounts (tests, benches, fixture replays).
#[derive(Debug, Default)]
pub struct StaticIdentity {
    accounts: Mutex<HashMap<String, StaticAccount>>,
}

impl StaticIdentity {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an account.
    pub fn insert(&self, did: impl Into<String>, account: StaticAccount) {
        if let Ok(mut m) = self.accounts.lock() {
            m.insert(did.into(), account);
        }
    }

    fn get(&self, did: &str) -> Result<StaticAccount, LookupError> {
        self.accounts
            .lock()
            .ok()
            .and_then(|m| m.get(did).cloned())
            .ok_or_else(|| LookupError::NotFound(did.to_owned()))
    }
}

impl IdentitySource for StaticIdentity {
    fn signing_key<'a>(
        &'a self,
        did: &'a Did,
        _refresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, LookupError>> {
        Box::pin(async move { self.get(did).map(|a| a.key) })
    }

    fn pds_endpoint<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(async move { self.get(did).map(|a| a.pds) })
    }

    fn refresh_handle<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<Handle>, LookupError>> {
        Box::pin(async move {
            let handle = self.get(did)?.handle;
            handle
                .map(|h| Handle::parse(&h))
                .transpose()
                .map_err(|e| LookupError::NotFound(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_handles_come_back_typed_and_a_bad_one_is_permanent() {
        let ids = StaticIdentity::new();
        let key = repo::PrivateKey::generate(repo::Curve::K256).public_key();
        let account = |handle: &str| StaticAccount {
            key,
            pds: "http://127.0.0.1:9".into(),
            handle: Some(handle.into()),
        };
        let (alice, bob) = (
            Did::parse("did:plc:alice").unwrap(),
            Did::parse("did:plc:bob").unwrap(),
        );
        ids.insert(alice.as_str(), account("Alice.Test"));
        ids.insert(bob.as_str(), account("not a handle"));
        let handle = ids.verified_handle(&alice).await.unwrap();
        assert_eq!(handle, Some(Handle::parse("alice.test").unwrap()));
        let e = ids.refresh_handle(&bob).await.unwrap_err();
        assert!(!e.is_transient(), "{e:?}");
    }

    #[test]
    fn identity_errors_keep_their_class() {
        let e: LookupError = IdentityError::Network("connection refused".into()).into();
        assert!(e.is_transient(), "{e:?}");
        let e: LookupError = IdentityError::Tombstoned("did:plc:x".into()).into();
        assert_eq!(
            e,
            LookupError::NotFound("DID not available (tombstoned): did:plc:x".into())
        );
    }
}
