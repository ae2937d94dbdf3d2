//! The v3 `xmtp.identity.api.v1.IdentityApi` client over tonic (gRPC over HTTP/2; rustls
//! for `https://`, plaintext for `http://`), without codegen: tonic's `Grpc` client with
//! `tonic_prost::ProstCodec` and our hand-written messages.
//!
//! Politeness: ≤ 50 inbox ids per `GetIdentityUpdates` (libxmtp's chunk size), bounded
//! concurrency, a token bucket matching the published per-IP read limit, per-call
//! timeouts, retries with exponential backoff and full jitter, and `RESOURCE_EXHAUSTED`
//! treated as "back off" (the bucket is drained so every task slows down).

use crate::api::{ApiError, BoxFuture, IdentityApi, InboxLog, LogEntry};
use crate::proto::api as pb;
use crate::ratelimit::{RateLimit, TokenBucket};
use crate::signature::{ScwRequest, ScwVerdict};
use backoff::Policy;
use std::sync::Arc;
use std::time::Duration;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

/// libxmtp's `GET_IDENTITY_UPDATES_CHUNK_SIZE`.
pub const MAX_INBOXES_PER_REQUEST: usize = 50;

/// The XMTP networks served by v3 nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmtpEnv {
    /// `grpc.dev.xmtp.network`.
    Dev,
    /// `grpc.production.xmtp.network`.
    Production,
}

impl XmtpEnv {
    /// The v3 gRPC endpoint.
    pub fn endpoint(self) -> &'static str {
        match self {
            XmtpEnv::Dev => "https://grpc.dev.xmtp.network:443",
            XmtpEnv::Production => "https://grpc.production.xmtp.network:443",
        }
    }
}

impl std::str::FromStr for XmtpEnv {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dev" => Ok(XmtpEnv::Dev),
            "production" => Ok(XmtpEnv::Production),
            other => Err(format!("unknown XMTP env {other:?} (dev|production)")),
        }
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://host:port` or `http://host:port`.
    pub endpoint: String,
    /// Per-call deadline.
    pub timeout: Duration,
    /// TCP/TLS connect deadline.
    pub connect_timeout: Duration,
    /// Attempts after the first.
    pub max_retries: u32,
    /// First backoff step.
    pub base_backoff: Duration,
    /// Backoff ceiling.
    pub max_backoff: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Inbox ids per `GetIdentityUpdates` (capped at 50).
    pub chunk_size: usize,
    /// Client-side token bucket.
    pub rate_limit: RateLimit,
}

impl ClientConfig {
    /// Defaults for a network endpoint.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            max_retries: 4,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            concurrency: 16,
            chunk_size: MAX_INBOXES_PER_REQUEST,
            rate_limit: RateLimit::XMTP_READS,
        }
    }
}

/// The tonic `IdentityApi` client. Cheap to clone (one shared HTTP/2 channel).
#[derive(Clone)]
pub struct GrpcIdentityApi {
    channel: Channel,
    cfg: Arc<ClientConfig>,
    bucket: Arc<TokenBucket>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for GrpcIdentityApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcIdentityApi")
            .field("endpoint", &self.cfg.endpoint)
            .finish()
    }
}

pub(crate) fn status_to_error(s: tonic::Status) -> ApiError {
    use tonic::Code;
    match s.code() {
        Code::Unavailable | Code::Cancelled | Code::Aborted => {
            ApiError::Unavailable(s.message().to_string())
        }
        Code::DeadlineExceeded => ApiError::Timeout,
        Code::ResourceExhausted => ApiError::RateLimited,
        Code::Internal if s.message().contains("decode") => {
            ApiError::Malformed(s.message().to_string())
        }
        Code::Unknown if s.message().contains("transport") || s.message().contains("h2") => {
            ApiError::Unavailable(s.message().to_string())
        }
        code => ApiError::Status {
            code: format!("{code:?}"),
            message: s.message().to_string(),
        },
    }
}

impl GrpcIdentityApi {
    /// Builds the client; the connection is made lazily on first use. Call it inside a
    /// Tokio runtime (tonic spawns the channel's worker task here).
    pub fn new(cfg: ClientConfig) -> Result<Self, ApiError> {
        let mut endpoint = Endpoint::from_shared(cfg.endpoint.clone())
            .map_err(|e| ApiError::Endpoint(e.to_string()))?
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .user_agent("xmtp-appview")
            .map_err(|e| ApiError::Endpoint(e.to_string()))?;
        if cfg.endpoint.starts_with("https://") {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_webpki_roots())
                .map_err(|e| ApiError::Endpoint(e.to_string()))?;
        } else if !cfg.endpoint.starts_with("http://") {
            return Err(ApiError::Endpoint(format!(
                "{} is not http(s)",
                cfg.endpoint
            )));
        }
        let channel = endpoint.connect_lazy();
        let permits = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
        let bucket = Arc::new(TokenBucket::new(cfg.rate_limit));
        Ok(Self {
            channel,
            cfg: Arc::new(cfg),
            bucket,
            permits,
        })
    }

    /// The shared HTTP/2 channel (streaming calls of the d14n client).
    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The client settings.
    pub(crate) fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// The token bucket (for metrics and tests).
    pub fn bucket(&self) -> &TokenBucket {
        &self.bucket
    }

    async fn call_once<Req, Resp>(&self, path: &'static str, req: Req) -> Result<Resp, ApiError>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.bucket.acquire().await;
        metrics::counter!("xmtp_api_calls_total", "method" => path.rsplit('/').next().unwrap_or(path)).increment(1);
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let mut request = tonic::Request::new(req);
        request.set_timeout(self.cfg.timeout);
        let fut = grpc.unary(request, PathAndQuery::from_static(path), codec);
        match tokio::time::timeout(self.cfg.timeout + Duration::from_secs(1), fut).await {
            Err(_) => Err(ApiError::Timeout),
            Ok(Err(status)) => Err(status_to_error(status)),
            Ok(Ok(resp)) => Ok(resp.into_inner()),
        }
    }

    /// One RPC with bounded concurrency, retries, backoff and jitter (also used by the
    /// d14n client for its own paths).
    pub(crate) async fn call<Req, Resp>(
        &self,
        path: &'static str,
        req: Req,
    ) -> Result<Resp, ApiError>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let mut attempt = 0u32;
        loop {
            match self.call_once(path, req.clone()).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retryable() && attempt < self.cfg.max_retries => {
                    metrics::counter!("xmtp_api_retries_total", "error" => e.label()).increment(1);
                    let policy = Policy::new(self.cfg.base_backoff, self.cfg.max_backoff);
                    let mut ceiling = policy.ceiling(attempt);
                    if e == ApiError::RateLimited {
                        self.bucket.drain();
                        ceiling = ceiling.max(Duration::from_secs(5)).min(policy.max);
                    }
                    let delay = policy.jitter.apply(ceiling);
                    tracing::debug!(error = %e, attempt, ?delay, "identity API call failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => {
                    metrics::counter!("xmtp_api_errors_total", "error" => e.label()).increment(1);
                    return Err(e);
                }
            }
        }
    }

    /// One `GetIdentityUpdates` request (≤ chunk size inboxes).
    async fn get_chunk(&self, chunk: Vec<(String, u64)>) -> Result<Vec<InboxLog>, ApiError> {
        let req = pb::GetIdentityUpdatesRequest {
            requests: chunk
                .iter()
                .map(
                    |(inbox_id, seq)| pb::get_identity_updates_request::Request {
                        inbox_id: inbox_id.clone(),
                        sequence_id: *seq,
                    },
                )
                .collect(),
        };
        let resp: pb::RawGetIdentityUpdatesResponse =
            self.call(pb::PATH_GET_IDENTITY_UPDATES, req).await?;
        let mut by_id: std::collections::HashMap<String, Vec<LogEntry>> = resp
            .responses
            .into_iter()
            .map(|r| {
                let entries = r
                    .updates
                    .into_iter()
                    .map(|u| LogEntry {
                        sequence_id: u.sequence_id,
                        server_timestamp_ns: u.server_timestamp_ns,
                        update: u.update,
                    })
                    .collect();
                (r.inbox_id, entries)
            })
            .collect();
        // Answers are matched by inbox id; entries at or below the requested position are
        // dropped, and the order must be increasing.
        let mut out = Vec::with_capacity(chunk.len());
        for (inbox_id, after) in chunk {
            let mut entries = by_id.remove(&inbox_id).unwrap_or_default();
            entries.retain(|e| e.sequence_id > after);
            if entries
                .windows(2)
                .any(|w| w[0].sequence_id >= w[1].sequence_id)
            {
                return Err(ApiError::Malformed(format!(
                    "log of {inbox_id} out of order"
                )));
            }
            out.push(InboxLog { inbox_id, entries });
        }
        Ok(out)
    }

    /// All inboxes, in chunks, chunks in parallel (bounded by the semaphore).
    pub async fn get_identity_updates_owned(
        &self,
        requests: Vec<(String, u64)>,
    ) -> Result<Vec<InboxLog>, ApiError> {
        let size = self.cfg.chunk_size.clamp(1, MAX_INBOXES_PER_REQUEST);
        let mut set = tokio::task::JoinSet::new();
        for (i, chunk) in requests.chunks(size).enumerate() {
            let this = self.clone();
            let chunk = chunk.to_vec();
            set.spawn(async move { (i, this.get_chunk(chunk).await) });
        }
        let mut parts: Vec<Option<Vec<InboxLog>>> = vec![None; requests.len().div_ceil(size)];
        while let Some(joined) = set.join_next().await {
            let (i, res) = joined.map_err(|e| ApiError::Unavailable(e.to_string()))?;
            parts[i] = Some(res?);
        }
        Ok(parts.into_iter().flatten().flatten().collect())
    }

    /// `GetInboxIds` for Ethereum addresses.
    pub async fn get_inbox_ids(
        &self,
        addresses: &[String],
    ) -> Result<Vec<(String, Option<String>)>, ApiError> {
        let req = pb::GetInboxIdsRequest {
            requests: crate::inbox_ids::ethereum_lookups(addresses),
        };
        let resp: pb::GetInboxIdsResponse = self.call(pb::PATH_GET_INBOX_IDS, req).await?;
        Ok(crate::inbox_ids::pairs(resp.responses))
    }

    /// `PublishIdentityUpdate` (devnet and tests; the AppView never writes).
    pub async fn publish_identity_update(
        &self,
        update: crate::proto::associations::IdentityUpdate,
    ) -> Result<(), ApiError> {
        let req = pb::PublishIdentityUpdateRequest {
            identity_update: Some(update),
        };
        let _: pb::PublishIdentityUpdateResponse =
            self.call(pb::PATH_PUBLISH_IDENTITY_UPDATE, req).await?;
        Ok(())
    }
}

impl IdentityApi for GrpcIdentityApi {
    fn get_identity_updates<'a>(
        &'a self,
        requests: &'a [(String, u64)],
    ) -> BoxFuture<'a, Result<Vec<InboxLog>, ApiError>> {
        Box::pin(self.get_identity_updates_owned(requests.to_vec()))
    }

    fn verify_smart_contract_wallet_signatures<'a>(
        &'a self,
        requests: &'a [ScwRequest],
    ) -> BoxFuture<'a, Result<Vec<ScwVerdict>, ApiError>> {
        Box::pin(async move {
            let req = pb::VerifySmartContractWalletSignaturesRequest {
                signatures: requests
                    .iter()
                    .map(|r| pb::VerifySmartContractWalletSignatureRequestSignature {
                        account_id: r.account_id.clone(),
                        block_number: Some(r.block_number),
                        signature: r.signature.clone(),
                        hash: r.hash.to_vec(),
                    })
                    .collect(),
            };
            let resp: pb::VerifySmartContractWalletSignaturesResponse =
                self.call(pb::PATH_VERIFY_SCW, req).await?;
            if resp.responses.len() != requests.len() {
                return Err(ApiError::Malformed(
                    "verdict count differs from request count".into(),
                ));
            }
            Ok(resp
                .responses
                .into_iter()
                .map(|r| ScwVerdict::from_response(r.is_valid, r.error.as_deref()))
                .collect())
        })
    }
}

/// Describes the client's metrics (call once at startup, after installing a recorder).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "xmtp_api_calls_total",
        "XMTP identity API requests sent, by method"
    );
    metrics::describe_counter!(
        "xmtp_api_retries_total",
        "XMTP identity API retries, by error kind"
    );
    metrics::describe_counter!(
        "xmtp_api_errors_total",
        "XMTP identity API calls that failed after retries, by error kind"
    );
    metrics::describe_counter!(
        "xmtp_api_rate_limit_waits_total",
        "Waits on the client-side token bucket (published per-IP read limit)"
    );
}
