//! [`IdentitySource`] for `identity::Resolver`: the production identity side. Transient
//! faults stay transient (never evidence against a repo); everything else is "not found".

use syntax::Did;

use crate::source::{BoxFuture, IdentitySource, LookupError};

fn lookup(e: identity::IdentityError) -> LookupError {
    if e.is_transient() {
        LookupError::Transient(e.to_string())
    } else {
        LookupError::NotFound(e.to_string())
    }
}

fn did(s: &str) -> Result<Did, LookupError> {
    Did::parse(s).map_err(|e| LookupError::NotFound(e.to_string()))
}

impl IdentitySource for identity::Resolver {
    fn signing_key<'a>(
        &'a self,
        d: &'a str,
        refresh: bool,
    ) -> BoxFuture<'a, Result<repo::PublicKey, LookupError>> {
        Box::pin(async move {
            let d = did(d)?;
            if refresh {
                let doc = self.refresh_did(&d).await.map_err(lookup)?;
                return doc
                    .signing_key
                    .ok_or_else(|| lookup(identity::IdentityError::NoSigningKey));
            }
            identity::Resolver::signing_key(self, &d).await.map_err(lookup)
        })
    }

    fn pds_endpoint<'a>(&'a self, d: &'a str) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(async move { self.pds(&did(d)?).await.map_err(lookup) })
    }

    fn refresh_handle<'a>(
        &'a self,
        d: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async move {
            let d = did(d)?;
            self.invalidate(&d);
            let h = self.verified_handle(&d).await.map_err(lookup)?;
            Ok(h.map(|h| h.as_str().to_owned()))
        })
    }
}
