//! The cached, SSRF-guarded async resolver.

use std::sync::Arc;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig as DnsConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use repo::PublicKey;
use reqwest::{Client, Url};
use syntax::{Did, Handle};

use crate::cache::Cache;
use crate::config::ResolverConfig;
use crate::doc::DidDocument;
use crate::error::IdentityError;
use crate::handle::{check_tld, resolve_dns, resolve_via_service, resolve_well_known};
use crate::http::{MAX_BODY, get_guarded, get_trusted, status_error};
use crate::ssrf::HickoryLookup;

type DidResult = Result<Arc<DidDocument>, IdentityError>;

struct Inner {
    config: ResolverConfig,
    /// For operator-configured endpoints (PLC, resolveHandle service).
    trusted: Client,
    /// For hosts named by untrusted data (did:web, handles): SSRF-guarded.
    guarded: netguard::GuardedClient,
    dns: Arc<TokioResolver>,
    dids: Cache<Did, DidResult>,
    handles: Cache<Handle, Result<Did, IdentityError>>,
}

/// DID and handle resolver with TTL caches. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("plc_url", &self.inner.config.plc_url)
            .finish_non_exhaustive()
    }
}

fn build_dns(config: &ResolverConfig) -> TokioResolver {
    let mut builder = if config.dns_servers.is_empty() {
        TokioResolver::builder_tokio().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no system DNS configuration; using public resolvers");
            TokioResolver::builder_with_config(
                DnsConfig::default(),
                TokioConnectionProvider::default(),
            )
        })
    } else {
        let mut dns = DnsConfig::new();
        for addr in &config.dns_servers {
            dns.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
            dns.add_name_server(NameServerConfig::new(*addr, Protocol::Tcp));
        }
        TokioResolver::builder_with_config(dns, TokioConnectionProvider::default())
    };
    builder.options_mut().timeout = config.dns_timeout;
    builder.options_mut().attempts = 2;
    builder.build()
}

impl Resolver {
    /// Builds the HTTP clients and DNS resolver. Must be called inside a tokio runtime.
    pub fn new(config: ResolverConfig) -> Result<Self, IdentityError> {
        let dns = Arc::new(build_dns(&config));
        let base = || {
            Client::builder()
                .timeout(config.http_timeout)
                .connect_timeout(config.http_timeout)
                .user_agent(config.user_agent.clone())
        };
        let trusted = base()
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| IdentityError::Network(format!("HTTP client: {e}")))?;
        let allow_private = config.allow_private_network;
        let mut policy =
            netguard::Policy::with_timeout(allow_private, config.http_timeout, &config.user_agent);
        // Dev mode keeps the system resolver (hosts file: `localhost`); otherwise the
        // configured name servers answer, and the guard filters their answers.
        if !allow_private {
            policy.lookup = Some(Arc::new(HickoryLookup(dns.clone())));
        }
        let guarded = netguard::GuardedClient::new(policy)
            .map_err(|e| IdentityError::Network(format!("HTTP client: {e}")))?;
        let max = config.max_entries;
        Ok(Resolver {
            inner: Arc::new(Inner {
                config,
                trusted,
                guarded,
                dns,
                dids: Cache::new(max),
                handles: Cache::new(max),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ResolverConfig {
        &self.inner.config
    }

    /// Resolves a DID document (cached).
    pub async fn resolve_did(&self, did: &Did) -> Result<Arc<DidDocument>, IdentityError> {
        if let Some((v, _)) = self.inner.dids.get(did) {
            return v;
        }
        self.fetch_and_cache(did).await
    }

    async fn fetch_and_cache(&self, did: &Did) -> DidResult {
        let result = self.fetch_did(did).await.map(Arc::new);
        let ttl = if result.is_ok() {
            self.inner.config.ttl_ok
        } else {
            self.inner.config.ttl_err
        };
        if let Err(e) = &result {
            tracing::debug!(%did, error = %e, "DID resolution failed");
        }
        self.inner.dids.insert(did.clone(), result.clone(), ttl);
        result
    }

    /// Drops the cached document (and the cached resolution of its claimed handle).
    pub fn invalidate(&self, did: &Did) {
        if let Some(Ok(doc)) = self.inner.dids.remove(did)
            && let Some(h) = &doc.handle
        {
            self.inner.handles.remove(h);
        }
    }

    /// Re-fetches the document (for key rotation: call once after a signature failure).
    /// A document fetched less than `min_refresh_interval` ago is returned as is.
    pub async fn refresh_did(&self, did: &Did) -> Result<Arc<DidDocument>, IdentityError> {
        if let Some((v, fetched)) = self.inner.dids.get(did)
            && fetched.elapsed() < self.inner.config.min_refresh_interval
        {
            return v;
        }
        self.invalidate(did);
        self.fetch_and_cache(did).await
    }

    /// The current `#atproto` signing key.
    pub async fn signing_key(&self, did: &Did) -> Result<PublicKey, IdentityError> {
        self.resolve_did(did)
            .await?
            .signing_key
            .ok_or(IdentityError::NoSigningKey)
    }

    /// The `#atproto_pds` endpoint.
    pub async fn pds(&self, did: &Did) -> Result<String, IdentityError> {
        self.resolve_did(did)
            .await?
            .pds
            .clone()
            .ok_or(IdentityError::NoPds)
    }

    async fn fetch_did(&self, did: &Did) -> Result<DidDocument, IdentityError> {
        let cfg = &self.inner.config;
        let parse = |url: String| {
            Url::parse(&url).map_err(|e| IdentityError::BadDid(format!("{did}: {e}")))
        };
        let f = match did.method() {
            "plc" => {
                let url = format!("{}/{}", cfg.plc_url.trim_end_matches('/'), did);
                get_trusted(&self.inner.trusted, parse(url)?, MAX_BODY).await?
            }
            "web" => {
                let url = did_web_url(did, cfg.allow_private_network)?;
                get_guarded(&self.inner.guarded, parse(url)?, None, MAX_BODY).await?
            }
            other => return Err(IdentityError::UnsupportedMethod(other.to_owned())),
        };
        if !f.status.is_success() {
            return Err(status_error(f.status, did.as_str(), &f.body));
        }
        DidDocument::parse(&f.body, did)
    }

    /// Resolves a handle to a DID (not bidirectionally verified; see [`Self::verified_handle`]).
    pub async fn resolve_handle(&self, handle: &Handle) -> Result<Did, IdentityError> {
        if let Some((v, _)) = self.inner.handles.get(handle) {
            return v;
        }
        let result = self.fetch_handle(handle).await;
        let ttl = if result.is_ok() {
            self.inner.config.ttl_ok
        } else {
            self.inner.config.ttl_err
        };
        self.inner
            .handles
            .insert(handle.clone(), result.clone(), ttl);
        result
    }

    async fn fetch_handle(&self, handle: &Handle) -> Result<Did, IdentityError> {
        let cfg = &self.inner.config;
        if let Some(service) = &cfg.resolve_handle_service {
            return resolve_via_service(&self.inner.trusted, service, handle).await;
        }
        check_tld(handle, cfg.allow_private_network)?;
        // indigo skips DNS for *.bsky.social: those handles are served over HTTPS only.
        let skip_dns = handle.as_str().ends_with(".bsky.social");
        let http = resolve_well_known(
            &self.inner.guarded,
            handle,
            cfg.handle_well_known_base.as_deref(),
        );
        let (dns, http) = if skip_dns {
            (
                Err(IdentityError::NotFound("DNS skipped".into())),
                http.await,
            )
        } else {
            tokio::join!(resolve_dns(&self.inner.dns, handle, cfg.dns_timeout), http)
        };
        combine(dns, http)
    }

    /// The DID's handle if verified both ways: the document claims it and it resolves back
    /// to the DID. `Ok(None)`: definitively not verified (show `handle.invalid`).
    /// `Err`: the DID itself could not be resolved, or a transient fault: keep what you had.
    pub async fn verified_handle(&self, did: &Did) -> Result<Option<Handle>, IdentityError> {
        let doc = self.resolve_did(did).await?;
        let Some(handle) = doc.handle.clone() else {
            return Ok(None);
        };
        match self.resolve_handle(&handle).await {
            Ok(d) if d == *did => Ok(Some(handle)),
            Ok(_) => Ok(None),
            Err(e) if e.is_transient() => Err(e),
            Err(_) => Ok(None),
        }
    }
}

/// DNS wins on success; otherwise HTTPS; otherwise a transient fault beats "not found".
fn combine(
    dns: Result<Did, IdentityError>,
    http: Result<Did, IdentityError>,
) -> Result<Did, IdentityError> {
    match (dns, http) {
        (Ok(d), _) | (Err(_), Ok(d)) => Ok(d),
        (Err(a), Err(b)) => {
            if a.is_transient() {
                Err(a)
            } else if b.is_transient() {
                Err(b)
            } else if matches!(a, IdentityError::InvalidHandle(_)) {
                Err(a)
            } else {
                Err(b)
            }
        }
    }
}

/// `did:web:<host>` → `https://<host>/.well-known/did.json`. Paths are not supported; a
/// port (`%3A`) only for localhost, over plain HTTP, and only when private networks are allowed.
fn did_web_url(did: &Did, allow_private: bool) -> Result<String, IdentityError> {
    let id = did.identifier();
    if id.contains(':') {
        return Err(IdentityError::BadDid(format!(
            "{did}: did:web paths are not supported"
        )));
    }
    let host = id.replace("%3A", ":").replace("%3a", ":");
    if let Some((name, port)) = host.split_once(':') {
        if name != "localhost" || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::BadDid(format!(
                "{did}: a port is only allowed on localhost"
            )));
        }
        if !allow_private {
            return Err(IdentityError::Forbidden(format!(
                "{did}: localhost not allowed"
            )));
        }
        return Ok(format!("http://{host}/.well-known/did.json"));
    }
    if host.contains('%') {
        return Err(IdentityError::BadDid(format!(
            "{did}: unexpected percent-encoding"
        )));
    }
    Ok(format!("https://{host}/.well-known/did.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_web_urls_follow_the_atproto_rules() {
        let url = |s: &str, allow| did_web_url(&Did::parse(s).unwrap(), allow);
        assert_eq!(
            url("did:web:example.com", false).unwrap(),
            "https://example.com/.well-known/did.json"
        );
        assert_eq!(
            url("did:web:localhost%3A2583", true).unwrap(),
            "http://localhost:2583/.well-known/did.json"
        );
        assert!(matches!(
            url("did:web:localhost%3A2583", false),
            Err(IdentityError::Forbidden(_))
        ));
        assert!(matches!(
            url("did:web:example.com%3A8080", true),
            Err(IdentityError::BadDid(_))
        ));
        assert!(matches!(
            url("did:web:example.com:user:alice", true),
            Err(IdentityError::BadDid(_))
        ));
    }

    #[test]
    fn dns_wins_and_network_faults_beat_not_found() {
        let a = Did::parse("did:plc:a").unwrap();
        let b = Did::parse("did:plc:b").unwrap();
        let nf = || Err(IdentityError::NotFound("x".into()));
        let net = || Err(IdentityError::Network("x".into()));
        assert_eq!(combine(Ok(a.clone()), Ok(b.clone())).unwrap(), a);
        assert_eq!(combine(nf(), Ok(b.clone())).unwrap(), b);
        assert!(combine(nf(), net()).unwrap_err().is_transient());
        assert!(combine(net(), nf()).unwrap_err().is_transient());
        assert!(matches!(
            combine(nf(), nf()),
            Err(IdentityError::NotFound(_))
        ));
    }
}
