//! [`GuardedClient`]: GETs to hosts named by untrusted data, under a [`Policy`].

use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use tokio::time::{Instant, timeout_at};

use crate::addr::refuse_url;
use crate::dns::{GuardedResolve, SystemLookup};
use crate::error::{NetError, RedirectLimit, Refusal, classify, is_transient_status};
use crate::policy::Policy;

/// A response read whole under the caller's cap.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The status of the last hop.
    pub status: StatusCode,
    /// The response headers of the last hop.
    pub headers: HeaderMap,
    /// The body (at most the cap given to [`GuardedClient::get`]).
    pub body: Vec<u8>,
    /// The URL that answered (after redirects).
    pub url: Url,
}

impl Fetched {
    /// `Ok(self)` for a 2xx status, else [`NetError::Status`] (transient for 408, 425, 429
    /// and 5xx: see [`NetError::is_transient`]).
    pub fn error_for_status(self) -> Result<Self, NetError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(NetError::Status(self.status))
        }
    }

    /// Whether the status says "try again later" (408, 425, 429, 5xx).
    pub fn is_transient_status(&self) -> bool {
        is_transient_status(self.status)
    }
}

/// The HTTP client for hosts chosen by strangers (PDS endpoints, did:web hosts, handles).
///
/// Every URL and redirect hop is checked ([`crate::check_url`] rules, https→http refused,
/// at most [`Policy::max_redirects`] hops); every host name is resolved by the client's own
/// resolver, which drops non-public answers, so the address connected to is the address
/// checked. No proxy is used. Bodies are read chunk by chunk under a cap. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

impl GuardedClient {
    /// A client under `policy`.
    pub fn new(policy: Policy) -> Result<Self, NetError> {
        Self::with_builder(policy, |b| b)
    }

    /// As [`Self::new`], letting `tweak` adjust the reqwest builder last (tests: trust a
    /// test certificate). Do not use it to undo the guard.
    pub(crate) fn with_builder(
        policy: Policy,
        tweak: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Result<Self, NetError> {
        let (allow_private, is_public, max) =
            (policy.allow_private, policy.is_public, policy.max_redirects);
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max {
                return attempt.error(RedirectLimit(max));
            }
            let downgrade = attempt
                .previous()
                .last()
                .is_some_and(|p| p.scheme() == "https")
                && attempt.url().scheme() != "https";
            let refusal = if downgrade {
                Some(format!("redirect from https to {}", attempt.url().scheme()))
            } else {
                refuse_url(attempt.url(), allow_private, is_public)
                    .map(|why| format!("redirect to {}: {why}", attempt.url()))
            };
            match refusal {
                Some(why) => attempt.error(Refusal(why)),
                None => attempt.follow(),
            }
        });
        let resolve = GuardedResolve {
            lookup: policy
                .lookup
                .clone()
                .unwrap_or_else(|| Arc::new(SystemLookup)),
            allow_private,
            is_public,
        };
        let builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(redirect)
            .dns_resolver(Arc::new(resolve))
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.total_timeout)
            .user_agent(policy.user_agent.clone());
        let client = tweak(builder)
            .build()
            .map_err(|e| NetError::Network(format!("building the HTTP client: {e}")))?;
        Ok(GuardedClient {
            client,
            policy: Arc::new(policy),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// GETs `url`, following allowed redirects, and reads at most `max_body` bytes of body
    /// (a longer one, announced or streamed, is [`NetError::TooLarge`]). Any status is
    /// returned as is (see [`Fetched::error_for_status`]).
    pub async fn get(&self, url: &str, max_body: usize) -> Result<Fetched, NetError> {
        self.get_with_headers(url, HeaderMap::new(), max_body).await
    }

    /// As [`Self::get`], with extra request headers (e.g. `Host` for a dev-mode well-known
    /// base URL).
    pub async fn get_with_headers(
        &self,
        url: &str,
        headers: HeaderMap,
        max_body: usize,
    ) -> Result<Fetched, NetError> {
        let result = self.fetch(url, headers, max_body).await;
        if let Err(e) = &result {
            metrics::counter!(crate::FAILURES, "kind" => e.kind()).increment(1);
            if matches!(e, NetError::Forbidden(_)) {
                tracing::info!(url, error = %e, "guarded fetch refused");
            }
        }
        result
    }

    async fn fetch(
        &self,
        url: &str,
        headers: HeaderMap,
        max_body: usize,
    ) -> Result<Fetched, NetError> {
        let p = &self.policy;
        let parsed = Url::parse(url).map_err(|e| NetError::BadUrl(format!("{url}: {e}")))?;
        if let Some(why) = refuse_url(&parsed, p.allow_private, p.is_public) {
            return Err(NetError::Forbidden(why));
        }
        let start = Instant::now();
        let total = start + p.total_timeout;
        let headers_by = (start + p.header_timeout).min(total);
        let request = self.client.get(parsed).headers(headers).send();
        let mut resp = match timeout_at(headers_by, request).await {
            Err(_) => {
                return Err(NetError::Timeout(format!(
                    "no response headers within {:?}",
                    headers_by - start
                )));
            }
            Ok(r) => r.map_err(|e| classify(&e))?,
        };
        if resp.content_length().is_some_and(|n| n > max_body as u64) {
            return Err(NetError::TooLarge { limit: max_body });
        }
        let (status, headers, final_url) =
            (resp.status(), resp.headers().clone(), resp.url().clone());
        let mut body = Vec::new();
        loop {
            let chunk = match timeout_at(total, resp.chunk()).await {
                Err(_) => {
                    return Err(NetError::Timeout(format!(
                        "body not complete within {:?}",
                        p.total_timeout
                    )));
                }
                Ok(c) => c.map_err(|e| classify(&e))?,
            };
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > max_body {
                return Err(NetError::TooLarge { limit: max_body });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            headers,
            body,
            url: final_url,
        })
    }
}
