//! [`Policy`]: what a [`crate::GuardedClient`] may reach and how long it waits.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::addr::is_public_ip;
use crate::dns::Lookup;

/// The rules of a [`crate::GuardedClient`].
#[derive(Clone)]
pub struct Policy {
    /// Allow loopback, private and link-local targets and plain `http`
    /// (`--allow-private-network`: devnet and tests). https→http redirects stay refused.
    pub allow_private: bool,
    /// Deadline of the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Deadline of the response headers, counted from the start of the request (the
    /// connection and every redirect hop included).
    pub header_timeout: Duration,
    /// Deadline of the whole exchange, body included.
    pub total_timeout: Duration,
    /// Redirects followed at most (each hop is checked like the first URL).
    pub max_redirects: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Name resolution; `None` is the system resolver.
    pub lookup: Option<Arc<dyn Lookup>>,
    /// Which addresses count as public. Keep the default [`is_public_ip`]: tests replace it
    /// so that a loopback server can stand in for a public host.
    pub is_public: fn(IpAddr) -> bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_private: false,
            connect_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_redirects: 3,
            user_agent: concat!("xmtp-appview/", env!("CARGO_PKG_VERSION")).into(),
            lookup: None,
            is_public: is_public_ip,
        }
    }
}

impl Policy {
    /// The default policy with one timeout for connect, headers and the whole exchange.
    pub fn with_timeout(allow_private: bool, timeout: Duration, user_agent: &str) -> Self {
        Policy {
            allow_private,
            connect_timeout: timeout,
            header_timeout: timeout,
            total_timeout: timeout,
            user_agent: user_agent.to_owned(),
            ..Policy::default()
        }
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("allow_private", &self.allow_private)
            .field("connect_timeout", &self.connect_timeout)
            .field("header_timeout", &self.header_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_redirects", &self.max_redirects)
            .field("user_agent", &self.user_agent)
            .field("custom_lookup", &self.lookup.is_some())
            .finish_non_exhaustive()
    }
}
