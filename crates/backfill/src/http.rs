//! [`HostPool`]: polite HTTP GETs — at most `per_host_concurrency` requests in flight per
//! host, a deadline per request, retries of 429 / 5xx / timeouts / connection errors with
//! exponential backoff and jitter, and a 429's `Retry-After` applied to the whole host (every
//! request to it waits). [`PoliteFetcher`] is `sync.getRecord` over it, as the firehose's
//! [`RecordFetcher`].
//!
//! Every request goes through [`netguard::GuardedClient`]: PDS and discovery hosts come from
//! DID documents and configuration, so non-public addresses (after DNS, and on every redirect
//! hop), https→http redirects and oversize bodies are refused unless
//! `allow_private_network`. Refusals are not retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netguard::{GuardedClient, NetError, Policy};
use sync::backoff::Backoff;
use sync::{BoxFuture, FetchedRecord, LookupError, RecordFetcher, RepoStatus};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::BackfillConfig;
use crate::error::BackfillError;
use crate::metrics as m;

/// Largest `getRecord` proof accepted (as the firehose's fetcher).
const MAX_PROOF_BYTES: usize = 2_000_000;
/// Largest discovery page accepted.
pub const MAX_PAGE_BYTES: usize = 16_000_000;

/// An HTTP answer that is not worth retrying (success, or a client error).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The XRPC error name of a JSON error body, if any.
    pub fn xrpc_error(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        v.get("error")?.as_str().map(str::to_owned)
    }
}

struct Host {
    permits: Semaphore,
    paused_until: Mutex<Option<Instant>>,
}

impl Host {
    fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        if let Ok(mut p) = self.paused_until.lock() {
            *p = Some(p.map_or(until, |old| old.max(until)));
        }
    }

    fn paused_until(&self) -> Option<Instant> {
        self.paused_until.lock().ok().and_then(|p| *p)
    }
}

/// Rate-limited, retrying GETs, bounded per host.
pub struct HostPool {
    client: GuardedClient,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    per_host: usize,
    attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl std::fmt::Debug for HostPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostPool")
            .field("per_host", &self.per_host)
            .finish_non_exhaustive()
    }
}

/// Parses `Retry-After` as delta-seconds (HTTP-dates are not honoured: backoff instead).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl HostPool {
    /// A pool with the settings of `cfg`.
    pub fn new(cfg: &BackfillConfig) -> Result<Self, BackfillError> {
        let policy = Policy::with_timeout(
            cfg.allow_private_network,
            cfg.request_timeout,
            &cfg.user_agent,
        );
        let client =
            GuardedClient::new(policy).map_err(|e| BackfillError::Client(e.to_string()))?;
        Ok(Self {
            client,
            hosts: Mutex::new(HashMap::new()),
            per_host: cfg.per_host_concurrency.max(1),
            attempts: cfg.http_attempts.max(1),
            initial_backoff: cfg.initial_backoff,
            max_backoff: cfg.max_backoff,
            max_retry_after: cfg.max_retry_after,
        })
    }

    fn host(&self, url: &str) -> Arc<Host> {
        let key = reqwest::Url::parse(url)
            .ok()
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or(""),
                    u.port_or_known_default().unwrap_or(0)
                )
            })
            .unwrap_or_default();
        let mut hosts = match self.hosts.lock() {
            Ok(h) => h,
            Err(p) => p.into_inner(),
        };
        hosts
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Host {
                    permits: Semaphore::new(self.per_host),
                    paused_until: Mutex::new(None),
                })
            })
            .clone()
    }

    /// GETs `url`, retrying transient faults; `Err` with the last fault once attempts run
    /// out, or at once for a refusal or an oversize body ([`NetError::is_transient`] false).
    /// Any answer that is not 429 or 5xx is returned as is.
    pub async fn get(&self, url: &str, max_bytes: usize) -> Result<Answer, NetError> {
        let host = self.host(url);
        let mut backoff = Backoff::new(self.initial_backoff, self.max_backoff);
        let mut last = NetError::Network("no attempt made".into());
        for attempt in 1..=self.attempts {
            let (why, retry_after) = {
                let Ok(_permit) = host.permits.acquire().await else {
                    return Err(NetError::Network("host pool closed".into()));
                };
                if let Some(until) = host.paused_until()
                    && until > Instant::now()
                {
                    tokio::time::sleep_until(until).await;
                }
                match self.once(url, max_bytes).await {
                    Ok(answer) if answer.status == 429 => {
                        last = NetError::Status(reqwest::StatusCode::TOO_MANY_REQUESTS);
                        ("rate_limited", answer.retry_after)
                    }
                    Ok(answer) if answer.status >= 500 => {
                        last = reqwest::StatusCode::from_u16(answer.status)
                            .map(NetError::Status)
                            .unwrap_or_else(|_| {
                                NetError::Network(format!("HTTP {}", answer.status))
                            });
                        ("server", None)
                    }
                    Ok(answer) => return Ok(answer.answer),
                    Err(e) if !e.is_transient() => return Err(e),
                    Err(e) => {
                        last = e;
                        ("network", None)
                    }
                }
            };
            if attempt == self.attempts {
                break;
            }
            metrics::counter!(m::HTTP_RETRIES, "why" => why).increment(1);
            match retry_after {
                Some(d) => {
                    // Honour the server's word for the whole host, then try again.
                    host.pause_for(d.min(self.max_retry_after));
                    backoff.next_delay();
                }
                None if why == "rate_limited" => host.pause_for(backoff.next_delay()),
                None => backoff.wait().await,
            }
            tracing::debug!(url, attempt, why, "retrying request");
        }
        Err(last)
    }

    async fn once(&self, url: &str, max_bytes: usize) -> Result<Raw, NetError> {
        let fetched = self.client.get(url, max_bytes).await?;
        let status = fetched.status.as_u16();
        let retry_after = fetched
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        Ok(Raw {
            answer: Answer {
                status,
                body: fetched.body,
            },
            status,
            retry_after,
        })
    }
}

struct Raw {
    answer: Answer,
    status: u16,
    retry_after: Option<Duration>,
}

/// `com.atproto.sync.getRecord` through a [`HostPool`].
#[derive(Debug, Clone)]
pub struct PoliteFetcher {
    pool: Arc<HostPool>,
    allow_private: bool,
}

impl PoliteFetcher {
    /// A fetcher over `pool`; `allow_private` lets it reach loopback/private PDS hosts.
    pub fn new(pool: Arc<HostPool>, allow_private: bool) -> Self {
        Self {
            pool,
            allow_private,
        }
    }
}

impl RecordFetcher for PoliteFetcher {
    fn get_record<'a>(
        &'a self,
        pds: &'a str,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<FetchedRecord, LookupError>> {
        Box::pin(async move {
            let url = sync::fetch::get_record_url(pds, did);
            sync::fetch::check_pds_url(&url, self.allow_private)?;
            let answer = self
                .pool
                .get(&url, MAX_PROOF_BYTES)
                .await
                .map_err(|e| match e {
                    // The PDS (or a redirect, or its DNS) points where we never go: as
                    // `check_pds_url`, the DID has no usable PDS.
                    NetError::Forbidden(_) | NetError::BadUrl(_) => {
                        LookupError::NotFound(format!("getRecord from {pds}: {e}"))
                    }
                    e => LookupError::Transient(format!("getRecord: {e}")),
                })?;
            if answer.status == 200 {
                return Ok(FetchedRecord::Car(answer.body));
            }
            let error = answer.xrpc_error();
            match (answer.status, error.as_deref()) {
                (400 | 404, Some("RecordNotFound")) => Ok(FetchedRecord::NotFound),
                (
                    400 | 404,
                    Some(
                        e
                        @ ("RepoNotFound" | "RepoTakendown" | "RepoSuspended" | "RepoDeactivated"),
                    ),
                ) => Err(LookupError::NotFound(format!("getRecord: {e}"))),
                (status, e) => Err(LookupError::Transient(format!(
                    "getRecord HTTP {status} {}",
                    e.unwrap_or("")
                ))),
            }
        })
    }

    fn repo_status<'a>(
        &'a self,
        pds: &'a str,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<Option<RepoStatus>, LookupError>> {
        Box::pin(async move {
            let url = sync::fetch::repo_status_url(pds, did);
            sync::fetch::check_pds_url(&url, self.allow_private)?;
            let answer = self
                .pool
                .get(&url, sync::fetch::MAX_STATUS_BYTES)
                .await
                .map_err(sync::fetch::lookup_error)?;
            if answer.status == 200 {
                return sync::fetch::parse_repo_status(&answer.body).map(Some);
            }
            match (answer.status, answer.xrpc_error().as_deref()) {
                (400 | 404, Some("RepoNotFound")) => Ok(None),
                (status, e) => Err(LookupError::Transient(format!(
                    "getRepoStatus HTTP {status} {}",
                    e.unwrap_or("")
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn cfg(allow_private: bool) -> BackfillConfig {
        BackfillConfig {
            allow_private_network: allow_private,
            http_attempts: 5,
            initial_backoff: Duration::from_secs(2),
            request_timeout: Duration::from_secs(20),
            ..BackfillConfig::default()
        }
    }

    /// A server on loopback that answers every request with a chunked body that never ends.
    async fn endless_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                    if s.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = [b"1000\r\n".as_slice(), &[b'x'; 4096], b"\r\n"].concat();
                    while s.write_all(&chunk).await.is_ok() {}
                });
            }
        });
        (url, hits)
    }

    #[tokio::test]
    async fn an_endless_body_stops_at_the_cap_and_is_not_retried() {
        let (url, hits) = endless_server().await;
        let pool = HostPool::new(&cfg(true)).unwrap();
        let started = std::time::Instant::now();
        let err = pool.get(&url, 100_000).await.unwrap_err();
        assert_eq!(err, NetError::TooLarge { limit: 100_000 });
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn private_hosts_are_refused_without_a_retry_unless_allowed() {
        let (url, hits) = endless_server().await;
        let https = url.replace("http://", "https://");
        let pool = HostPool::new(&cfg(false)).unwrap();
        let started = std::time::Instant::now();
        for u in [url.as_str(), https.as_str(), "https://localhost.:443/"] {
            let err = pool.get(u, 1000).await.unwrap_err();
            assert!(matches!(err, NetError::Forbidden(_)), "{u}: {err:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        let fetcher = PoliteFetcher::new(Arc::new(pool), false);
        let got = fetcher
            .get_record(
                "https://127.0.0.1:9",
                &syntax::Did::parse("did:plc:x").unwrap(),
            )
            .await;
        assert!(matches!(got, Err(LookupError::NotFound(_))), "{got:?}");
    }

    #[test]
    fn retry_after_reads_delta_seconds_only() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
