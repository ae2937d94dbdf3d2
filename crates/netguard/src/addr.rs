//! Which addresses, host names and URLs a stranger may make us reach.
//!
//! Public means globally routable unicast. Everything else is refused unless private
//! networks are allowed: loopback, RFC 1918, link-local (cloud metadata at 169.254.169.254),
//! CGNAT, unique-local, v4-mapped and v4-embedding IPv6 forms, unspecified, multicast,
//! broadcast, documentation, benchmarking and reserved ranges, and every spelling of
//! `localhost`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// True when `ip` is a globally routable unicast address.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
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
        || o[0] == 0 // "this network" 0/8
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments 192.0.0/24
        || (o[0] == 192 && o[1] == 88 && o[2] == 99) // 6to4 relay anycast 192.88.99/24
        || o[0] >= 240) // reserved 240/4
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Only global unicast (2000::/3) can be public: this drops loopback, unspecified,
    // v4-mapped (::ffff:0:0/96), v4-compatible, NAT64 (64:ff9b::/96), discard (100::/64),
    // unique-local (fc00::/7), link-local (fe80::/10), site-local and multicast (ff00::/8).
    if (s[0] & 0xe000) != 0x2000 {
        return false;
    }
    // 2001::/23 IETF special purpose (Teredo, ORCHID, ...) and 2001:db8::/32 documentation.
    let special_2001 = s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8);
    !(special_2001
        || s[0] == 0x2002 // 6to4: embeds an arbitrary v4 address
        || (s[0] == 0x3fff && s[1] < 0x1000)) // documentation 3fff::/20
}

/// True for every spelling of a local host name: `localhost`, `localhost.`, `*.localhost`
/// (any case), and the loopback names of common hosts files.
pub fn is_localhost_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h == "localhost.localdomain"
        || h == "ip6-localhost"
        || h == "ip6-loopback"
}

/// Why a URL or address is refused (the text of [`crate::NetError::Forbidden`]).
pub(crate) fn refuse_url(
    url: &Url,
    allow_private: bool,
    is_public: fn(IpAddr) -> bool,
) -> Option<String> {
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => return Some(format!("scheme {other} not allowed")),
    }
    let host = match url.host() {
        Some(h) => h,
        None => return Some("URL has no host".into()),
    };
    if allow_private {
        return None;
    }
    match host {
        Host::Ipv4(ip) => refuse_ip(IpAddr::V4(ip), is_public),
        Host::Ipv6(ip) => refuse_ip(IpAddr::V6(ip), is_public),
        Host::Domain(d) if d.trim_end_matches('.').is_empty() => Some("empty host".into()),
        Host::Domain(d) if is_localhost_name(d) => Some(format!("host {d} is local")),
        Host::Domain(_) => None,
    }
}

pub(crate) fn refuse_ip(ip: IpAddr, is_public: fn(IpAddr) -> bool) -> Option<String> {
    (!is_public(ip)).then(|| format!("address {ip} is not public"))
}

/// Checks a URL named by untrusted data before any request: `https` only (`http` too when
/// private networks are allowed) and, unless private networks are allowed, no IP literal
/// that is not public and no `localhost` spelling. Host names are checked again after DNS,
/// at connect time, by [`crate::GuardedClient`]. `Err` holds the reason.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    refuse_url(url, allow_private, is_public_ip).map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_non_public_range_is_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.9",
            "198.18.0.1",
            "192.88.99.1",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "::127.0.0.1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:8.8.8.8",
            "64:ff9b::a00:1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn every_localhost_spelling_is_local() {
        for h in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "pds.localhost",
            "x.LocalHost.",
            "localhost.localdomain",
            "ip6-localhost",
        ] {
            assert!(is_localhost_name(h), "{h}");
        }
        for h in ["localhost.example", "notlocalhost", "example.com"] {
            assert!(!is_localhost_name(h), "{h}");
        }
    }

    #[test]
    fn urls_name_the_reason_they_are_refused() {
        let check = |u: &str, allow| check_url(&Url::parse(u).unwrap(), allow);
        for (u, why) in [
            ("https://127.0.0.1/x", "address 127.0.0.1 is not public"),
            ("https://127.0.0.1./x", "address 127.0.0.1 is not public"),
            ("https://0x7f.1/x", "address 127.0.0.1 is not public"),
            ("https://[::1]/x", "address ::1 is not public"),
            (
                "https://[::ffff:a9fe:a9fe]/",
                "address ::ffff:169.254.169.254 is not public",
            ),
            ("https://localhost/x", "host localhost is local"),
            ("https://localhost.:443/x", "host localhost. is local"),
            ("https://a.b.localhost/x", "host a.b.localhost is local"),
            ("http://example.com/x", "scheme http not allowed"),
            ("ftp://example.com/x", "scheme ftp not allowed"),
        ] {
            assert_eq!(check(u, false), Err(why.to_string()), "{u}");
        }
        assert_eq!(
            check("file:///etc/passwd", true),
            Err("scheme file not allowed".into())
        );
        assert_eq!(check("https://example.com/x", false), Ok(()));
        assert_eq!(check("https://8.8.8.8/x", false), Ok(()));
        assert_eq!(check("http://127.0.0.1:8080/x", true), Ok(()));
        assert_eq!(check("http://localhost:2583/x", true), Ok(()));
    }
}
