//! [`HttpRecordFetcher`]: `com.atproto.sync.getRecord` and `getRepoStatus` through the
//! guarded client ([`netguard`]): addresses checked after DNS at connect time, every
//! redirect re-checked, bodies capped while streaming.

use std::time::Duration;

use netguard::{GuardedClient, NetError, Policy};
use syntax::Did;

use crate::source::{BoxFuture, FetchedRecord, LookupError, RecordFetcher, RepoStatus};

/// Largest proof CAR accepted.
const MAX_PROOF_BYTES: usize = 2_000_000;
/// Time allowed for one request (connect, headers, body).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches record proofs and repo statuses from PDSes.
#[derive(Debug, Clone)]
pub struct HttpRecordFetcher {
    client: GuardedClient,
    user_agent: String,
    allow_private: bool,
}

impl HttpRecordFetcher {
    /// A fetcher with a 10 s timeout and a descriptive user agent; private hosts refused.
    pub fn new(user_agent: &str) -> Result<Self, NetError> {
        let client = GuardedClient::new(Policy::with_timeout(false, TIMEOUT, user_agent))?;
        Ok(Self {
            client,
            user_agent: user_agent.to_owned(),
            allow_private: false,
        })
    }

    /// Whether PDS URLs on `http`, `localhost` or a non-public address may be fetched
    /// (default: refused; the devnet and tests allow them).
    pub fn allow_private_network(mut self, allow: bool) -> Self {
        match GuardedClient::new(Policy::with_timeout(allow, TIMEOUT, &self.user_agent)) {
            Ok(client) => {
                self.client = client;
                self.allow_private = allow;
            }
            Err(e) => {
                tracing::warn!(error = %e, "guarded client not rebuilt; private hosts stay refused")
            }
        }
        self
    }

    async fn get(&self, url: &str, max: usize) -> Result<netguard::Fetched, LookupError> {
        check_pds_url(url, self.allow_private)?;
        self.client.get(url, max).await.map_err(lookup_error)
    }
}

/// A refusal (the address or URL is not allowed) is final; the rest may pass.
pub fn lookup_error(e: NetError) -> LookupError {
    match e {
        NetError::Forbidden(_) | NetError::BadUrl(_) => LookupError::NotFound(e.to_string()),
        e => LookupError::Transient(e.to_string()),
    }
}

/// Refuses a PDS URL that the SSRF rule of [`netguard::check_url`] does not allow (before
/// any request, for a clear message; the client checks every address again at connect).
pub fn check_pds_url(url: &str, allow_private: bool) -> Result<(), LookupError> {
    let parsed = netguard::Url::parse(url)
        .map_err(|e| LookupError::NotFound(format!("PDS URL {url}: {e}")))?;
    netguard::check_url(&parsed, allow_private)
        .map_err(|why| LookupError::NotFound(format!("PDS URL {url} refused: {why}")))
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

/// The getRepoStatus URL of `did` on `pds`.
pub fn repo_status_url(pds: &str, did: &Did) -> String {
    format!(
        "{}/xrpc/com.atproto.sync.getRepoStatus?did={}",
        pds.trim_end_matches('/'),
        enc(did.as_str())
    )
}

/// Largest getRepoStatus answer read.
pub const MAX_STATUS_BYTES: usize = 16 * 1024;

/// Reads a getRepoStatus body (`{"did","active","status"?}`).
pub fn parse_repo_status(body: &[u8]) -> Result<RepoStatus, LookupError> {
    #[derive(serde::Deserialize)]
    struct Body {
        active: bool,
        status: Option<String>,
    }
    let b: Body = serde_json::from_slice(body)
        .map_err(|e| LookupError::Transient(format!("getRepoStatus body: {e}")))?;
    let status = b.status.map(|s| s.chars().take(64).collect());
    Ok(RepoStatus {
        active: b.active,
        status,
    })
}

/// The getRecord URL for `org.xmtp.inbox/self` of `did` on `pds`.
pub fn get_record_url(pds: &str, did: &Did) -> String {
    format!(
        "{}/xrpc/com.atproto.sync.getRecord?did={}&collection=org.xmtp.inbox&rkey=self",
        pds.trim_end_matches('/'),
        enc(did.as_str())
    )
}

impl RecordFetcher for HttpRecordFetcher {
    fn get_record<'a>(
        &'a self,
        pds: &'a str,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<FetchedRecord, LookupError>> {
        Box::pin(async move {
            let f = self.get(&get_record_url(pds, did), MAX_PROOF_BYTES).await?;
            if f.status.is_success() {
                return Ok(FetchedRecord::Car(f.body));
            }
            if matches!(f.status.as_u16(), 400 | 404)
                && String::from_utf8_lossy(&f.body).contains("RecordNotFound")
            {
                return Ok(FetchedRecord::NotFound);
            }
            Err(LookupError::Transient(format!(
                "getRecord HTTP {}",
                f.status
            )))
        })
    }

    fn repo_status<'a>(
        &'a self,
        pds: &'a str,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<RepoStatus>, LookupError>> {
        Box::pin(async move {
            let f = self
                .get(&repo_status_url(pds, did), MAX_STATUS_BYTES)
                .await?;
            if f.status.is_success() {
                return parse_repo_status(&f.body).map(Some);
            }
            if f.status.as_u16() == 400 && String::from_utf8_lossy(&f.body).contains("RepoNotFound")
            {
                // The PDS does not host the repo (any more): not evidence of a status.
                return Ok(None);
            }
            Err(LookupError::Transient(format!(
                "getRepoStatus HTTP {}",
                f.status
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(s: &str) -> Did {
        Did::parse(s).unwrap()
    }

    #[test]
    fn private_loopback_and_plain_http_pds_urls_are_refused_unless_allowed() {
        for u in [
            "https://127.0.0.1:9/x",
            "https://localhost/x",
            "https://10.1.2.3/",
            "https://[::1]/",
            "https://192.168.0.1/",
            "https://[fe80::1]/",
            "http://pds.example.com/x",
        ] {
            assert!(check_pds_url(u, false).is_err(), "{u}");
            assert!(check_pds_url(u, true).is_ok(), "{u}");
        }
        for u in ["https://pds.example.com/x", "https://8.8.8.8/"] {
            assert!(check_pds_url(u, false).is_ok(), "{u}");
        }
    }

    #[tokio::test]
    async fn the_fetcher_refuses_private_hosts_by_default() {
        let fetcher = HttpRecordFetcher::new("test").unwrap();
        let err = fetcher
            .get_record("http://127.0.0.1:9", &did("did:plc:x"))
            .await;
        assert!(matches!(err, Err(LookupError::NotFound(_))), "{err:?}");
    }

    #[test]
    fn repo_status_bodies_are_read_and_bad_ones_are_transient() {
        let s = parse_repo_status(br#"{"did":"did:plc:a","active":false,"status":"takendown"}"#);
        assert_eq!(
            s,
            Ok(RepoStatus {
                active: false,
                status: Some("takendown".into())
            })
        );
        assert!(matches!(
            parse_repo_status(b"{}"),
            Err(LookupError::Transient(_))
        ));
    }

    #[test]
    fn url_encodes_the_did_and_trims_the_slash() {
        assert_eq!(
            get_record_url("https://pds.example/", &did("did:plc:abc")),
            "https://pds.example/xrpc/com.atproto.sync.getRecord?did=did%3Aplc%3Aabc&collection=org.xmtp.inbox&rkey=self"
        );
    }
}
