//! The d14n `IdentityApi` backend: node discovery through the gateway
//! (`PayerApi/GetNodes`), `ReplicationApi/QueryEnvelopes` on identity-update topics
//! (≤ 50 inboxes per query, paged by the inbox-log cursor as libxmtp's
//! `get_identity_updates_v2` builds it: `last_seen = {1: sequence id}`), `GetInboxIds`, and
//! `SubscribeEnvelopes` streams. Each call goes through the same retrying, rate-limited
//! machinery as the v3 client.

use super::decode::{identity_topic, inbox_of_topic, unwrap_identity_update};
use super::proto as pb;
use crate::api::{ApiError, BoxFuture, IdentityApi, InboxLog, LogEntry};
use crate::client::{ClientConfig, GrpcIdentityApi, MAX_INBOXES_PER_REQUEST, status_to_error};
use crate::signature::{ScwRequest, ScwVerdict};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tonic::codegen::http::uri::PathAndQuery;

/// Where the d14n backend finds its nodes.
#[derive(Debug, Clone)]
pub struct D14nConfig {
    /// Gateway (`PayerApi/GetNodes`) URL.
    pub gateway: String,
    /// Settings for every connection (the endpoint field is replaced per node).
    pub client: ClientConfig,
    /// Envelopes per `QueryEnvelopes` page.
    pub page_limit: u32,
    /// Pages per inbox chunk before giving up (a node that never stops paging).
    pub max_pages: usize,
}

impl D14nConfig {
    /// Defaults for a gateway URL.
    pub fn new(gateway: impl Into<String>) -> Self {
        let gateway = gateway.into();
        Self {
            client: ClientConfig::new(gateway.clone()),
            gateway,
            page_limit: 1000,
            max_pages: 64,
        }
    }
}

/// The d14n client. Cheap to clone.
#[derive(Clone)]
pub struct D14nIdentityApi {
    cfg: Arc<D14nConfig>,
    gateway: GrpcIdentityApi,
    /// The node in use (discovered lazily; dropped after a transport fault so the next
    /// call asks the gateway again and moves to the next node).
    node: Arc<Mutex<Option<(u32, GrpcIdentityApi)>>>,
    /// Node ids that failed, skipped on the next discovery.
    skip: Arc<Mutex<Vec<u32>>>,
    /// Smart-contract-wallet checks (d14n clients do them against a chain RPC; we ask the
    /// v3 node while it answers). Without one every such check is "could not check".
    scw: Option<Arc<dyn IdentityApi>>,
}

impl std::fmt::Debug for D14nIdentityApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("D14nIdentityApi")
            .field("gateway", &self.cfg.gateway)
            .finish()
    }
}

impl D14nIdentityApi {
    /// Builds the client (lazy connections; call inside a Tokio runtime).
    pub fn new(cfg: D14nConfig, scw: Option<Arc<dyn IdentityApi>>) -> Result<Self, ApiError> {
        let mut gw = cfg.client.clone();
        gw.endpoint = cfg.gateway.clone();
        Ok(Self {
            gateway: GrpcIdentityApi::new(gw)?,
            cfg: Arc::new(cfg),
            node: Arc::new(Mutex::new(None)),
            skip: Arc::new(Mutex::new(Vec::new())),
            scw,
        })
    }

    /// The gateway's node directory.
    pub async fn get_nodes(&self) -> Result<HashMap<u32, String>, ApiError> {
        let resp: pb::GetNodesResponse = self
            .gateway
            .call(pb::PATH_GET_NODES, pb::GetNodesRequest {})
            .await?;
        Ok(resp.nodes)
    }

    /// The node to read from: the lowest-id node not recently failed.
    async fn node(&self) -> Result<(u32, GrpcIdentityApi), ApiError> {
        if let Some(n) = self.node.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(n);
        }
        let nodes = self.get_nodes().await?;
        let mut ids: Vec<u32> = nodes.keys().copied().collect();
        ids.sort_unstable();
        let pick = {
            let mut skip = self.skip.lock().unwrap_or_else(|e| e.into_inner());
            if ids.iter().all(|id| skip.contains(id)) {
                skip.clear();
            }
            ids.into_iter().find(|id| !skip.contains(id))
        };
        let Some(id) = pick else {
            return Err(ApiError::Unavailable("gateway lists no d14n node".into()));
        };
        let mut c = self.cfg.client.clone();
        c.endpoint = nodes.get(&id).cloned().unwrap_or_default();
        let api = GrpcIdentityApi::new(c)?;
        tracing::info!(node_id = id, url = %api.config().endpoint, "using d14n node");
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = Some((id, api.clone()));
        Ok((id, api))
    }

    /// Forgets the node after a fault so the next call moves on.
    fn node_failed(&self, id: u32, e: &ApiError) {
        if matches!(e, ApiError::Unavailable(_) | ApiError::Timeout) {
            self.skip.lock().unwrap_or_else(|e| e.into_inner()).push(id);
            *self.node.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    async fn node_call<Req, Resp>(&self, path: &'static str, req: Req) -> Result<Resp, ApiError>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let (id, node) = self.node().await?;
        let r = node.call(path, req).await;
        if let Err(e) = &r {
            self.node_failed(id, e);
        }
        r
    }

    /// One chunk (≤ 50 inboxes): paged `QueryEnvelopes` from the smallest position asked.
    async fn get_chunk(&self, chunk: &[(String, u64)]) -> Result<Vec<InboxLog>, ApiError> {
        let mut by_topic: HashMap<Vec<u8>, usize> = HashMap::new();
        for (i, (inbox, _)) in chunk.iter().enumerate() {
            // A non-hex inbox id has no topic: like v3, it simply has no log.
            if let Ok(t) = identity_topic(inbox) {
                by_topic.insert(t, i);
            }
        }
        let mut entries: Vec<Vec<LogEntry>> = vec![Vec::new(); chunk.len()];
        if by_topic.is_empty() {
            return Ok(assemble(chunk, entries));
        }
        let mut cursor = chunk.iter().map(|(_, s)| *s).min().unwrap_or(0);
        for _ in 0..self.cfg.max_pages.max(1) {
            let req = pb::QueryEnvelopesRequest {
                query: Some(pb::EnvelopesQuery {
                    topics: by_topic.keys().cloned().collect(),
                    originator_node_ids: Vec::new(),
                    last_seen: Some(pb::Cursor {
                        node_id_to_sequence_id: [(pb::INBOX_LOG_ORIGINATOR, cursor)].into(),
                    }),
                }),
                limit: self.cfg.page_limit,
            };
            let resp: pb::QueryEnvelopesResponse =
                self.node_call(pb::PATH_QUERY_ENVELOPES, req).await?;
            let n = resp.envelopes.len();
            for env in &resp.envelopes {
                let e = unwrap_identity_update(env).map_err(|e| {
                    metrics::counter!("xmtp_d14n_bad_envelopes_total").increment(1);
                    ApiError::Malformed(format!("d14n envelope: {e}"))
                })?;
                let Some(&i) = by_topic.get(&e.topic) else {
                    return Err(ApiError::Malformed(format!(
                        "d14n node answered topic {} that was not asked",
                        hex::encode(&e.topic)
                    )));
                };
                cursor = cursor.max(e.entry.sequence_id);
                entries[i].push(e.entry);
            }
            if n == 0 || n < self.cfg.page_limit as usize {
                break;
            }
        }
        let mut out = Vec::with_capacity(chunk.len());
        for ((inbox_id, after), mut es) in chunk.iter().zip(entries) {
            es.retain(|e| e.sequence_id > *after);
            es.sort_by_key(|e| e.sequence_id);
            es.dedup();
            if es.windows(2).any(|w| w[0].sequence_id == w[1].sequence_id) {
                return Err(ApiError::Malformed(format!(
                    "d14n log of {inbox_id} has two entries at one sequence id"
                )));
            }
            out.push(InboxLog {
                inbox_id: inbox_id.clone(),
                entries: es,
            });
        }
        Ok(out)
    }

    /// All inboxes, 50 per query.
    pub async fn get_identity_updates_owned(
        &self,
        requests: Vec<(String, u64)>,
    ) -> Result<Vec<InboxLog>, ApiError> {
        let mut out = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(MAX_INBOXES_PER_REQUEST) {
            out.extend(self.get_chunk(chunk).await?);
        }
        Ok(out)
    }

    /// `GetInboxIds` for Ethereum addresses.
    pub async fn get_inbox_ids(
        &self,
        addresses: &[String],
    ) -> Result<Vec<(String, Option<String>)>, ApiError> {
        let req = pb::GetInboxIdsRequest {
            requests: crate::inbox_ids::ethereum_lookups(addresses),
        };
        let resp: pb::GetInboxIdsResponse = self.node_call(pb::PATH_GET_INBOX_IDS, req).await?;
        Ok(crate::inbox_ids::pairs(resp.responses))
    }

    /// Opens a `SubscribeEnvelopes` stream on identity-update topics from the inbox-log
    /// cursor `after`. Each frame is unwrapped with [`decode_frame`].
    pub async fn subscribe(
        &self,
        topics: Vec<Vec<u8>>,
        after: u64,
    ) -> Result<tonic::Streaming<pb::SubscribeEnvelopesResponse>, ApiError> {
        let (id, node) = self.node().await?;
        let mut grpc = tonic::client::Grpc::new(node.channel());
        let ready = grpc.ready().await;
        if let Err(e) = ready {
            let e = ApiError::Unavailable(e.to_string());
            self.node_failed(id, &e);
            return Err(e);
        }
        let req = pb::SubscribeEnvelopesRequest {
            query: Some(pb::EnvelopesQuery {
                topics,
                originator_node_ids: Vec::new(),
                last_seen: Some(pb::Cursor {
                    node_id_to_sequence_id: [(pb::INBOX_LOG_ORIGINATOR, after)].into(),
                }),
            }),
        };
        let codec = tonic_prost::ProstCodec::<
            pb::SubscribeEnvelopesRequest,
            pb::SubscribeEnvelopesResponse,
        >::default();
        match grpc
            .server_streaming(
                tonic::Request::new(req),
                PathAndQuery::from_static(pb::PATH_SUBSCRIBE_ENVELOPES),
                codec,
            )
            .await
        {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => {
                let e = status_to_error(s);
                self.node_failed(id, &e);
                Err(e)
            }
        }
    }
}

/// The `(inbox id, sequence id)` of each identity update in a stream frame; envelopes that
/// do not unwrap are counted and skipped (a pushed frame is only a hint: the verifier
/// fetches and checks the log itself).
pub fn decode_frame(frame: &pb::SubscribeEnvelopesResponse) -> Vec<(String, u64)> {
    frame
        .envelopes
        .iter()
        .filter_map(|env| match unwrap_identity_update(env) {
            Ok(e) => inbox_of_topic(&e.topic).map(|i| (i, e.entry.sequence_id)),
            Err(err) => {
                metrics::counter!("xmtp_d14n_bad_envelopes_total").increment(1);
                tracing::debug!(error = %err, "skipping a pushed d14n envelope");
                None
            }
        })
        .collect()
}

fn assemble(chunk: &[(String, u64)], entries: Vec<Vec<LogEntry>>) -> Vec<InboxLog> {
    chunk
        .iter()
        .zip(entries)
        .map(|((inbox_id, _), entries)| InboxLog {
            inbox_id: inbox_id.clone(),
            entries,
        })
        .collect()
}

impl IdentityApi for D14nIdentityApi {
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
            match &self.scw {
                Some(api) => api.verify_smart_contract_wallet_signatures(requests).await,
                None => Ok(requests
                    .iter()
                    .map(|_| ScwVerdict::Error("no chain RPC configured for d14n".into()))
                    .collect()),
            }
        })
    }
}

/// `FetchD14nCutover` on a v3 node: the cutover time (unix ns), `None` when none is
/// scheduled (0).
pub async fn fetch_d14n_cutover(v3: &GrpcIdentityApi) -> Result<Option<u64>, ApiError> {
    let resp: pb::FetchD14nCutoverResponse =
        v3.call(pb::PATH_FETCH_D14N_CUTOVER, pb::Empty {}).await?;
    Ok((resp.timestamp_ns != 0).then_some(resp.timestamp_ns))
}
