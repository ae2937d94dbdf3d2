//! Name resolution with the address check at connect time: [`Lookup`] answers a host name
//! with addresses; the client's resolver drops every answer that is not public, so the
//! address checked is the address connected to (no rebinding window).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::addr::is_localhost_name;
use crate::error::Refusal;

/// A boxed error, as name servers report them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future a [`Lookup`] returns.
pub type LookupFuture = Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, BoxError>> + Send>>;

/// Answers a host name (without a trailing dot) with its addresses. Inject one with
/// [`crate::Policy::lookup`] (e.g. a hickory resolver with chosen name servers, or a fixed
/// table in tests); the default is the system resolver.
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The system resolver (`getaddrinfo`, hosts file included).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A fixed table of names (tests, pinned hosts). Unknown names fail to resolve.
#[derive(Debug, Clone, Default)]
pub struct StaticLookup(pub HashMap<String, Vec<IpAddr>>);

impl StaticLookup {
    /// Adds `host` → `addrs`.
    pub fn with(mut self, host: &str, addrs: &[IpAddr]) -> Self {
        self.0.insert(host.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl Lookup for StaticLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let found = self.0.get(&host.to_ascii_lowercase()).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| format!("{host}: no such host (static table)").into())
        })
    }
}

/// The reqwest resolver of a [`crate::GuardedClient`]: asks the [`Lookup`], keeps the
/// addresses the policy allows, and fails with a [`Refusal`] when none remain.
pub(crate) struct GuardedResolve {
    pub lookup: Arc<dyn Lookup>,
    pub allow_private: bool,
    pub is_public: fn(IpAddr) -> bool,
}

impl Resolve for GuardedResolve {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_owned();
        let (allow_private, is_public) = (self.allow_private, self.is_public);
        if !allow_private && is_localhost_name(&host) {
            return Box::pin(async move {
                Err(Box::new(Refusal(format!("host {host} is local"))) as BoxError)
            });
        }
        let answer = self.lookup.lookup(&host);
        Box::pin(async move {
            let ips = answer.await?;
            let kept: Vec<SocketAddr> = ips
                .iter()
                .filter(|ip| allow_private || is_public(**ip))
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect();
            if ips.is_empty() {
                return Err(format!("{host}: no addresses").into());
            }
            if kept.is_empty() {
                let why = format!("{host} resolves only to non-public addresses {ips:?}");
                return Err(Box::new(Refusal(why)) as BoxError);
            }
            if kept.len() < ips.len() {
                tracing::debug!(%host, ?ips, "dropped non-public DNS answers");
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}
