//! SSRF guard for requests to hosts named by untrusted data (did:web hosts, handles): the
//! rules and the client live in the `netguard` crate; this module feeds it the resolver's
//! own DNS (hickory, with the configured name servers).

use std::sync::Arc;

use hickory_resolver::TokioResolver;

pub use netguard::{check_url, is_public_ip};

/// [`netguard::Lookup`] over the resolver's hickory DNS.
pub(crate) struct HickoryLookup(pub Arc<TokioResolver>);

impl netguard::Lookup for HickoryLookup {
    fn lookup(&self, host: &str) -> netguard::LookupFuture {
        let dns = self.0.clone();
        // Fully qualified: no search-domain expansion.
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        Box::pin(async move {
            let lookup = dns.lookup_ip(fqdn).await?;
            Ok(lookup.iter().collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_localhost_spelling_and_private_literal_is_refused() {
        let check = |u: &str, allow| check_url(&reqwest::Url::parse(u).unwrap(), allow);
        for u in [
            "https://localhost.:443/x",
            "https://LOCALHOST/x",
            "https://pds.localhost/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://169.254.169.254/x",
            "http://example.com/x",
        ] {
            assert!(check(u, false).is_err(), "{u}");
        }
        assert!(check("file:///etc/passwd", true).is_err());
        assert!(check("https://example.com/x", false).is_ok());
        assert!(check("http://127.0.0.1:8080/x", true).is_ok());
        assert!(!is_public_ip("::ffff:127.0.0.1".parse().unwrap()));
    }
}
