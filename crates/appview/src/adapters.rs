//! Glue between library crates that do not know each other: the firehose asks identity
//! questions through its own small trait, and the XRPC server reads the firehose's live
//! status through its own. These newtypes connect them without either crate depending on
//! the other.

use std::sync::Arc;

use identity::{IdentityError, Resolver};
use repo::PublicKey;
use sync::{BoxFuture, IdentitySource, LookupError};
use syntax::Did;

/// `identity::Resolver` as the firehose's [`IdentitySource`].
#[derive(Clone)]
pub struct ResolverSource(pub Resolver);

fn lookup_error(e: IdentityError) -> LookupError {
    if e.is_transient() {
        LookupError::Transient(e.to_string())
    } else {
        LookupError::NotFound(e.to_string())
    }
}

fn parse_did(did: &str) -> Result<Did, LookupError> {
    Did::parse(did).map_err(|e| LookupError::NotFound(format!("{did}: {e}")))
}

impl IdentitySource for ResolverSource {
    fn signing_key<'a>(
        &'a self,
        did: &'a str,
        refresh: bool,
    ) -> BoxFuture<'a, Result<PublicKey, LookupError>> {
        Box::pin(async move {
            let did = parse_did(did)?;
            if refresh {
                self.0.refresh_did(&did).await.map_err(lookup_error)?;
            }
            self.0.signing_key(&did).await.map_err(lookup_error)
        })
    }

    fn pds_endpoint<'a>(&'a self, did: &'a str) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(async move {
            let did = parse_did(did)?;
            self.0.pds(&did).await.map_err(lookup_error)
        })
    }

    fn refresh_handle<'a>(
        &'a self,
        did: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async move {
            let did = parse_did(did)?;
            self.0.invalidate(&did);
            let handle = self.0.verified_handle(&did).await.map_err(lookup_error)?;
            Ok(handle.map(|h| h.as_str().to_string()))
        })
    }
}

/// The firehose's live status as the XRPC server's `getStatus` source.
pub struct FirehoseLive(pub Arc<firehose::LiveStatus>);

impl xrpc::LiveStatus for FirehoseLive {
    fn connected(&self) -> bool {
        self.0.is_connected()
    }

    fn lag_seconds(&self) -> Option<f64> {
        self.0.lag_seconds()
    }
}
