//! Resolver configuration (filled in by the binary from its CLI flags; no env reading here).

use std::time::Duration;

/// How the [`crate::Resolver`] reaches the network.
#[derive(Debug, Clone)]
pub struct ResolverConfig {
    /// PLC directory base URL (trusted, operator-configured; not SSRF-checked).
    pub plc_url: String,
    /// When set, handles resolve via `com.atproto.identity.resolveHandle` on this service
    /// (trusted) instead of DNS TXT + HTTPS well-known.
    pub resolve_handle_service: Option<String>,
    /// Dev/test only: fetch handle well-known files from `<base>/.well-known/atproto-did` with
    /// `Host: <handle>` instead of `https://<handle>/...` (SSRF guard still applies unless
    /// private networks are allowed).
    pub handle_well_known_base: Option<String>,
    /// Allow loopback/private/link-local targets and `http://localhost:PORT` did:web (devnet).
    pub allow_private_network: bool,
    /// Per-request HTTP timeout.
    pub http_timeout: Duration,
    /// DNS servers to ask (UDP, then TCP); empty = the system configuration.
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// DNS lookup timeout.
    pub dns_timeout: Duration,
    /// Lifetime of successful resolutions.
    pub ttl_ok: Duration,
    /// Lifetime of failures (including network faults, so we do not hammer a host).
    pub ttl_err: Duration,
    /// A forced refresh of a DID fetched more recently than this returns the cached document.
    pub min_refresh_interval: Duration,
    /// Maximum cached entries per cache (DIDs, handles).
    pub max_entries: usize,
    /// User-Agent header.
    pub user_agent: String,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            plc_url: "https://plc.directory".into(),
            resolve_handle_service: None,
            handle_well_known_base: None,
            allow_private_network: false,
            http_timeout: Duration::from_secs(10),
            dns_servers: Vec::new(),
            dns_timeout: Duration::from_secs(3),
            ttl_ok: Duration::from_secs(6 * 3600),
            ttl_err: Duration::from_secs(120),
            min_refresh_interval: Duration::from_secs(5),
            max_entries: 250_000,
            user_agent: concat!("xmtp-appview/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}
