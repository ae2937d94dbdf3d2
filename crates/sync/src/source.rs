//! What sync needs from the outside world, as small object-safe traits: the identity side
//! (signing keys, PDS endpoints, verified handles: `identity`'s one trait, re-exported) and
//! `sync.getRecord` fetching for resyncs. The binary plugs in `identity::Resolver` and an
//! HTTP fetcher; tests plug in maps.

pub use identity::{BoxFuture, IdentitySource, LookupError, StaticAccount, StaticIdentity};
use syntax::Did;

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
        did: &'a Did,
    ) -> BoxFuture<'a, Result<FetchedRecord, LookupError>>;

    /// `GET {pds}/xrpc/com.atproto.sync.getRepoStatus?did=..`; `Ok(None)` when this source
    /// cannot tell (the default).
    fn repo_status<'a>(
        &'a self,
        _pds: &'a str,
        _did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<RepoStatus>, LookupError>> {
        Box::pin(async { Ok(None) })
    }
}
