//! [`HttpRecordFetcher`]: `com.atproto.sync.getRecord` over HTTPS (reqwest).

use std::time::Duration;

use crate::source::{BoxFuture, FetchedRecord, LookupError, RecordFetcher};

/// Largest proof CAR accepted.
const MAX_PROOF_BYTES: usize = 2_000_000;

/// Fetches record proofs from PDSes.
#[derive(Debug, Clone)]
pub struct HttpRecordFetcher {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpRecordFetcher {
    /// A fetcher with a 10 s timeout and a descriptive user agent.
    pub fn new(user_agent: &str) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(user_agent)
            .build()?;
        Ok(Self {
            client,
            allow_private: true,
        })
    }

    /// Uses an existing client.
    pub fn with_client(client: reqwest::Client) -> Self {
        Self {
            client,
            allow_private: true,
        }
    }

    /// Whether PDS URLs naming `localhost` or a private/loopback/link-local IP literal may
    /// be fetched (default: allowed, for the devnet; production should pass `false`).
    /// Host names are not resolved here, so a public name pointing inward is not caught.
    pub fn allow_private_network(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }
}

/// True when `url`'s host is `localhost` or an IP literal that is not publicly routable.
pub fn is_private_host(url: &str) -> bool {
    use std::net::IpAddr;
    let Ok(u) = reqwest::Url::parse(url) else {
        return true;
    };
    match u.host() {
        None => true,
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
    }
}

fn is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        std::net::IpAddr::V6(v6) => {
            let seg = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (seg & 0xfe00) == 0xfc00
                || (seg & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| !is_public(v4.into())))
        }
    }
}

/// Percent-encodes a query value (unreserved characters kept).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The getRecord URL for `org.xmtp.inbox/self` of `did` on `pds`.
pub fn get_record_url(pds: &str, did: &str) -> String {
    format!(
        "{}/xrpc/com.atproto.sync.getRecord?did={}&collection=org.xmtp.inbox&rkey=self",
        pds.trim_end_matches('/'),
        enc(did)
    )
}

impl RecordFetcher for HttpRecordFetcher {
    fn get_record<'a>(
        &'a self,
        pds: &'a str,
        did: &'a str,
    ) -> BoxFuture<'a, Result<FetchedRecord, LookupError>> {
        Box::pin(async move {
            let url = get_record_url(pds, did);
            if !self.allow_private && is_private_host(&url) {
                return Err(LookupError::NotFound(format!(
                    "PDS {pds} is not a public host"
                )));
            }
            let resp = self
                .client
                .get(&url)
                .send()
                .await
                .map_err(|e| LookupError::Transient(e.to_string()))?;
            let status = resp.status();
            if status.is_success() {
                if resp
                    .content_length()
                    .is_some_and(|n| n as usize > MAX_PROOF_BYTES)
                {
                    return Err(LookupError::Transient("proof too large".into()));
                }
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| LookupError::Transient(e.to_string()))?;
                if body.len() > MAX_PROOF_BYTES {
                    return Err(LookupError::Transient("proof too large".into()));
                }
                return Ok(FetchedRecord::Car(body.to_vec()));
            }
            let body = resp.text().await.unwrap_or_default();
            if (status.as_u16() == 400 || status.as_u16() == 404) && body.contains("RecordNotFound")
            {
                return Ok(FetchedRecord::NotFound);
            }
            Err(LookupError::Transient(format!("getRecord HTTP {status}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_loopback_hosts_are_recognised() {
        for u in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://10.1.2.3/",
            "http://[::1]/",
            "http://192.168.0.1/",
            "http://[fe80::1]/",
        ] {
            assert!(is_private_host(u), "{u}");
        }
        for u in ["https://pds.example.com/x", "https://8.8.8.8/"] {
            assert!(!is_private_host(u), "{u}");
        }
    }

    #[test]
    fn url_encodes_the_did_and_trims_the_slash() {
        assert_eq!(
            get_record_url("https://pds.example/", "did:plc:abc"),
            "https://pds.example/xrpc/com.atproto.sync.getRecord?did=did%3Aplc%3Aabc&collection=org.xmtp.inbox&rkey=self"
        );
    }
}
