//! SSRF guard for requests to hosts named by untrusted data (did:web hosts, handles): refuse
//! loopback, private, link-local and other non-global addresses, at DNS resolution time (so
//! redirects and DNS rebinding are covered) and for IP-literal URLs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// True when `ip` is a globally routable unicast address.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 (could reach private v4)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[0] == 0x2002 // 6to4 (embeds arbitrary v4)
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)) // v4-compatible
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || o[0] >= 240) // reserved
}

/// Error returned by the guarded DNS resolver; detected in reqwest error chains.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to non-public addresses")]
pub(crate) struct SsrfRefused(pub String);

/// A reqwest DNS resolver that drops non-public addresses (and fails if none remain).
pub(crate) struct GuardedResolver {
    pub dns: Arc<TokioResolver>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let dns = self.dns.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let lookup = dns.lookup_ip(format!("{host}.")).await?;
            let addrs: Vec<SocketAddr> = lookup
                .iter()
                .filter(|ip| is_public_ip(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(SsrfRefused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Checks a URL named by untrusted data (a PDS endpoint, a did:web host): `https` only
/// (`http` too when private networks are allowed), and, unless private networks are
/// allowed, no IP literal that is not public and no `localhost`. Host names are checked
/// at connection time by the resolver's guarded DNS.
pub fn check_url(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => return Err(format!("scheme {other} not allowed")),
    }
    if allow_private {
        return Ok(());
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) if !is_public_v4(ip) => Err(format!("address {ip} not public")),
        Some(url::Host::Ipv6(ip)) if !is_public_ip(IpAddr::V6(ip)) => {
            Err(format!("address {ip} not public"))
        }
        Some(url::Host::Domain(d)) if d == "localhost" || d.ends_with(".localhost") => {
            Err("localhost not allowed".into())
        }
        Some(_) => Ok(()),
        None => Err("URL has no host".into()),
    }
}

/// Whether an error chain contains an SSRF refusal.
pub(crate) fn is_refusal(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<SsrfRefused>().is_some() {
            return true;
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_with_private_literals_or_odd_schemes_are_refused() {
        let check = |u: &str, allow| check_url(&reqwest::Url::parse(u).unwrap(), allow);
        assert!(check("https://127.0.0.1/x", false).is_err());
        assert!(check("https://[::1]/x", false).is_err());
        assert!(check("https://localhost/x", false).is_err());
        assert!(check("http://example.com/x", false).is_err());
        assert!(check("file:///etc/passwd", true).is_err());
        assert!(check("https://example.com/x", false).is_ok());
        assert!(check("http://127.0.0.1:8080/x", true).is_ok());
    }
}
