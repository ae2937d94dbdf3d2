//! What the firehose needs from the outside world, as small object-safe traits: the
//! identity side (signing keys, PDS endpoints, verified handles) and `sync.getRecord`
//! fetching for resyncs. The binary plugs in `identity::Resolver` and an HTTP fetcher;
//! tests plug in maps.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use repo::PublicKey;

/// A boxed, sendable future (the traits below must be usable as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The DID (or record) definitely does not exist or has no usable key/PDS.
    #[error("not found: {0}")]
    NotFound(String),
    /// Network or server trouble: retry later; never evidence against a record.
    #[error("transient failure: {0}")]
    Transient(String),
}

/// Identity lookups the firehose performs.
pub trait IdentitySource: Send + Sync + 'static {
    /// The DID's current `#atproto` signing key. `refresh` bypasses (and replaces) any
    /// cached DID document, for a retry after a signature failure (key rotation).
    fn signing_key<'a>(
        &'a self,
        did: &'a str,
        refresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, LookupError>>;

    /// The DID's PDS base URL (`#atproto_pds` service endpoint).
    fn pds_endpoint<'a>(&'a self, did: &'a str) -> BoxFuture<'a, Result<String, LookupError>>;

    /// Invalidates the cached DID document (an `#identity` event), re-resolves it and
    /// returns the handle verified in both directions, or `None`.
    fn refresh_handle<'a>(
        &'a self,
        did: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>>;
}

/// The answer of `com.atproto.sync.getRecord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchedRecord {
    /// A CAR with the signed commit, the MST path and the record (or proof of absence).
    Car(Vec<u8>),
    /// The PDS said `RecordNotFound` without a proof (not evidence: nothing is changed).
    NotFound,
}

/// A repo's hosting status (`com.atproto.sync.getRepoStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoStatus {
    /// Whether the account is active.
    pub active: bool,
    /// The upstream status when inactive (`takendown`, `deactivated`, `deleted`, ...).
    pub status: Option<String>,
}

/// Fetches `org.xmtp.inbox/self` proofs for resyncs.
pub trait RecordFetcher: Send + Sync + 'static {
    /// `GET {pds}/xrpc/com.atproto.sync.getRecord?did=..&collection=org.xmtp.inbox&rkey=self`.
    fn get_record<'a>(
        &'a self,
        pds: &'a str,
        did: &'a str,
    ) -> BoxFuture<'a, Result<FetchedRecord, LookupError>>;

    /// `GET {pds}/xrpc/com.atproto.sync.getRepoStatus?did=..`; `Ok(None)` when this source
    /// cannot tell (the default).
    fn repo_status<'a>(
        &'a self,
        _pds: &'a str,
        _did: &'a str,
    ) -> BoxFuture<'a, Result<Option<RepoStatus>, LookupError>> {
        Box::pin(async { Ok(None) })
    }
}

/// One account in a [`StaticIdentity`].
#[derive(Debug, Clone)]
pub struct StaticAccount {
    /// Signing key.
    pub key: PublicKey,
    /// PDS base URL.
    pub pds: String,
    /// Verified handle.
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
        did: &'a str,
        _refresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, LookupError>> {
        Box::pin(async move { self.get(did).map(|a| a.key) })
    }

    fn pds_endpoint<'a>(&'a self, did: &'a str) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(async move { self.get(did).map(|a| a.pds) })
    }

    fn refresh_handle<'a>(
        &'a self,
        did: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async move { self.get(did).map(|a| a.handle) })
    }
}
