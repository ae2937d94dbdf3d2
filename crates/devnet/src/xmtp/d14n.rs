//! The d14n stand-in: an xmtpd node (`xmtp.xmtpv4.message_api.ReplicationApi`:
//! `QueryEnvelopes`, `SubscribeEnvelopes`, `GetInboxIds`) and a gateway
//! (`xmtp.xmtpv4.payer_api.PayerApi/GetNodes`), each a real tonic server on loopback,
//! serving the SAME inbox logs as the v3 stand-in. Identity updates are served as xmtpd
//! serves them: originator 1 (the inbox log, sequence ids continuing v3's), a blockchain
//! proof, the client envelope's target topic `0x02 || inbox id`. The v3 stand-in's
//! `D14nMigrationApi/FetchD14nCutover` answers the cutover the test sets; after it, v3
//! reads no longer show new updates (they exist only here).

use super::service::{Answer, grpc_service, unary};
use super::store::Shared;
use futures_util::Stream;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tonic::body::Body;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};
use xmtp::d14n::proto as pb;
use xmtp::d14n::{inbox_of_topic, wrap_identity_update};

/// The node id the gateway lists for the stand-in node.
pub const NODE_ID: u32 = 100;
/// Envelopes per answer when the query asks for 0.
const DEFAULT_LIMIT: usize = 1000;

/// `D14nMigrationApi/FetchD14nCutover` on the v3 stand-in.
#[derive(Clone)]
pub(super) struct MigrationService {
    shared: Arc<Shared>,
}

grpc_service!(MigrationService, pb::MIGRATION_SERVICE);

impl MigrationService {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn route(&self, req: http::Request<Body>) -> Answer {
        let shared = self.shared.clone();
        Box::pin(async move {
            shared.count_call("FetchD14nCutover");
            if shared.mode() == super::FaultMode::Down {
                return Ok(Status::unavailable("devnet: XMTP stand-in is down").into_http());
            }
            if req.uri().path() != pb::PATH_FETCH_D14N_CUTOVER {
                return Ok(Status::unimplemented("devnet: not implemented").into_http());
            }
            Ok(unary(req, false, move |_: pb::Empty| {
                Ok(pb::FetchD14nCutoverResponse {
                    timestamp_ns: shared.cutover_ns(),
                })
            })
            .await)
        })
    }
}

/// The node's own state: the shared logs plus its fault switch and call counters.
struct Node {
    shared: Arc<Shared>,
    down: watch::Sender<bool>,
    calls: Mutex<HashMap<String, u64>>,
}

impl Node {
    fn count(&self, method: &str) {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(method.to_string())
            .or_default() += 1;
    }

    /// Envelopes of `topics` after the per-topic cursors, in sequence order.
    fn envelopes(
        &self,
        cursors: &HashMap<Vec<u8>, u64>,
        limit: usize,
    ) -> Vec<pb::OriginatorEnvelope> {
        let mut all: Vec<(u64, pb::OriginatorEnvelope)> = Vec::new();
        for (topic, after) in cursors {
            let Some(inbox) = inbox_of_topic(topic) else {
                continue;
            };
            for (seq, ts, update) in self.shared.log_after(&inbox, *after) {
                let tx = sha2_tx(seq);
                all.push((seq, wrap_identity_update(topic, seq, ts, &update, tx)));
            }
        }
        all.sort_by_key(|(s, _)| *s);
        all.truncate(limit);
        all.into_iter().map(|(_, e)| e).collect()
    }
}

/// A stand-in transaction hash (32 bytes derived from the sequence id).
fn sha2_tx(seq: u64) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(seq.to_be_bytes()).to_vec()
}

fn start_cursors(q: &pb::EnvelopesQuery) -> HashMap<Vec<u8>, u64> {
    let after = q
        .last_seen
        .as_ref()
        .and_then(|c| c.node_id_to_sequence_id.get(&pb::INBOX_LOG_ORIGINATOR))
        .copied()
        .unwrap_or(0);
    q.topics.iter().map(|t| (t.clone(), after)).collect()
}

type Frames = Pin<Box<dyn Stream<Item = Result<pb::SubscribeEnvelopesResponse, Status>> + Send>>;

/// `SubscribeEnvelopes`: catch-up from the cursor, then every new entry of the topics.
struct Subscribe(Arc<Node>);

impl Service<Request<pb::SubscribeEnvelopesRequest>> for Subscribe {
    type Response = Response<Frames>;
    type Error = Status;
    type Future = Ready<Result<Response<Frames>, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<pb::SubscribeEnvelopesRequest>) -> Self::Future {
        let node = self.0.clone();
        let query = req.into_inner().query.unwrap_or_default();
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(feed(node, start_cursors(&query), tx));
        let frames =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|f| (f, rx)) },
            );
        ready(Ok(Response::new(Box::pin(frames) as Frames)))
    }
}

type Tx = mpsc::Sender<Result<pb::SubscribeEnvelopesResponse, Status>>;

/// Sends what is new for the cursors; false when the client is gone.
async fn flush(node: &Node, cursors: &mut HashMap<Vec<u8>, u64>, tx: &Tx) -> bool {
    loop {
        let envelopes = node.envelopes(cursors, DEFAULT_LIMIT);
        if envelopes.is_empty() {
            return true;
        }
        for e in &envelopes {
            if let Ok(u) = xmtp::d14n::unwrap_identity_update(e)
                && let Some(c) = cursors.get_mut(&u.topic)
            {
                *c = (*c).max(u.entry.sequence_id);
            }
        }
        if tx
            .send(Ok(pb::SubscribeEnvelopesResponse { envelopes }))
            .await
            .is_err()
        {
            return false;
        }
    }
}

async fn feed(node: Arc<Node>, mut cursors: HashMap<Vec<u8>, u64>, tx: Tx) {
    let mut events = node.shared.events();
    let mut down = node.down.subscribe();
    let by_inbox: HashMap<String, Vec<u8>> = cursors
        .keys()
        .filter_map(|t| inbox_of_topic(t).map(|i| (i, t.clone())))
        .collect();
    if !flush(&node, &mut cursors, &tx).await {
        return;
    }
    loop {
        if *down.borrow_and_update() {
            let _ = tx
                .send(Err(Status::unavailable("devnet: d14n node is down")))
                .await;
            return;
        }
        tokio::select! {
            changed = down.changed() => if changed.is_err() { return },
            ev = events.recv() => match ev {
                Ok((inbox, _)) => {
                    if let Some(topic) = by_inbox.get(&inbox) {
                        let mut one: HashMap<Vec<u8>, u64> =
                            [(topic.clone(), cursors.get(topic).copied().unwrap_or(0))].into();
                        if !flush(&node, &mut one, &tx).await {
                            return;
                        }
                        cursors.extend(one);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if !flush(&node, &mut cursors, &tx).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tx.closed() => return,
        }
    }
}

/// `ReplicationApi` over the shared logs.
#[derive(Clone)]
struct ReplicationService(Arc<Node>);

grpc_service!(ReplicationService, pb::REPLICATION_SERVICE);

impl ReplicationService {
    fn route(&self, req: http::Request<Body>) -> Answer {
        let node = self.0.clone();
        Box::pin(async move {
            let path = req.uri().path().to_string();
            node.count(path.rsplit('/').next().unwrap_or(""));
            let latency = node.shared.latency();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            if *node.down.borrow() {
                return Ok(Status::unavailable("devnet: d14n node is down").into_http());
            }
            let resp = match path.as_str() {
                pb::PATH_QUERY_ENVELOPES => {
                    let n = node.clone();
                    unary(req, false, move |r: pb::QueryEnvelopesRequest| {
                        let q = r.query.unwrap_or_default();
                        let limit = match r.limit {
                            0 => DEFAULT_LIMIT,
                            l => l as usize,
                        };
                        Ok(pb::QueryEnvelopesResponse {
                            envelopes: n.envelopes(&start_cursors(&q), limit),
                        })
                    })
                    .await
                }
                pb::PATH_GET_INBOX_IDS => {
                    let n = node.clone();
                    unary(req, false, move |r: pb::GetInboxIdsRequest| {
                        let v3 = n
                            .shared
                            .get_inbox_ids(xmtp::proto::api::GetInboxIdsRequest {
                                requests: r
                                    .requests
                                    .into_iter()
                                    .map(|q| xmtp::proto::api::get_inbox_ids_request::Request {
                                        identifier: q.identifier,
                                        identifier_kind: q.identifier_kind,
                                    })
                                    .collect(),
                            });
                        Ok(pb::GetInboxIdsResponse {
                            responses: v3
                                .responses
                                .into_iter()
                                .map(|a| pb::get_inbox_ids_response::Response {
                                    identifier: a.identifier,
                                    inbox_id: a.inbox_id,
                                    identifier_kind: a.identifier_kind,
                                })
                                .collect(),
                        })
                    })
                    .await
                }
                pb::PATH_SUBSCRIBE_ENVELOPES => {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                        pb::SubscribeEnvelopesResponse,
                        pb::SubscribeEnvelopesRequest,
                    >::default());
                    grpc.server_streaming(Subscribe(node.clone()), req).await
                }
                _ => Status::unimplemented(format!("devnet: {path} not implemented")).into_http(),
            };
            Ok(resp)
        })
    }
}

/// `PayerApi/GetNodes`: lists the stand-in node.
#[derive(Clone)]
struct GatewayService {
    node_url: String,
    down: Arc<watch::Sender<bool>>,
}

grpc_service!(GatewayService, pb::PAYER_SERVICE);

impl GatewayService {
    fn route(&self, req: http::Request<Body>) -> Answer {
        let url = self.node_url.clone();
        let down = *self.down.borrow();
        Box::pin(async move {
            if down {
                return Ok(Status::unavailable("devnet: gateway is down").into_http());
            }
            if req.uri().path() != pb::PATH_GET_NODES {
                return Ok(Status::unimplemented("devnet: not implemented").into_http());
            }
            Ok(unary(req, false, move |_: pb::GetNodesRequest| {
                Ok(pb::GetNodesResponse {
                    nodes: [(NODE_ID, url.clone())].into(),
                })
            })
            .await)
        })
    }
}

struct Server {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve<S>(svc: S) -> std::io::Result<(SocketAddr, Server)>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let task = tokio::spawn(async move {
        let served = tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "d14n stand-in stopped with an error");
        }
    });
    Ok((
        addr,
        Server {
            stop: Some(stop),
            task,
        },
    ))
}

/// A running d14n node + gateway over a v3 stand-in's inboxes. Dropping it stops both.
pub struct D14nStandIn {
    gateway_url: String,
    node_url: String,
    node: Arc<Node>,
    gateway_down: Arc<watch::Sender<bool>>,
    servers: Vec<Server>,
}

impl std::fmt::Debug for D14nStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("D14nStandIn")
            .field("gateway_url", &self.gateway_url)
            .field("node_url", &self.node_url)
            .finish()
    }
}

impl D14nStandIn {
    pub(super) async fn start(shared: Arc<Shared>) -> std::io::Result<Self> {
        let node = Arc::new(Node {
            shared,
            down: watch::channel(false).0,
            calls: Mutex::new(HashMap::new()),
        });
        let (node_addr, node_server) = serve(ReplicationService(node.clone())).await?;
        let node_url = format!("http://{node_addr}");
        let gateway_down = Arc::new(watch::channel(false).0);
        let (gw_addr, gw_server) = serve(GatewayService {
            node_url: node_url.clone(),
            down: gateway_down.clone(),
        })
        .await?;
        Ok(Self {
            gateway_url: format!("http://{gw_addr}"),
            node_url,
            node,
            gateway_down,
            servers: vec![node_server, gw_server],
        })
    }

    /// The gateway: pass it as `--xmtp-gateway`.
    pub fn gateway_url(&self) -> &str {
        &self.gateway_url
    }

    /// The node the gateway lists.
    pub fn node_url(&self) -> &str {
        &self.node_url
    }

    /// Takes the node down (`UNAVAILABLE`, open streams end) or brings it back.
    pub fn set_node_down(&self, down: bool) {
        self.node.down.send_replace(down);
    }

    /// Takes the gateway down or brings it back.
    pub fn set_gateway_down(&self, down: bool) {
        self.gateway_down.send_replace(down);
    }

    /// Calls the node received, by method name.
    pub fn calls(&self, method: &str) -> u64 {
        self.node
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    /// Stops both servers.
    pub async fn shutdown(mut self) {
        for mut s in std::mem::take(&mut self.servers) {
            if let Some(stop) = s.stop.take() {
                let _ = stop.send(());
            }
            let _ = (&mut s.task).await;
        }
    }
}

impl Drop for D14nStandIn {
    fn drop(&mut self) {
        for s in &mut self.servers {
            if let Some(stop) = s.stop.take() {
                let _ = stop.send(());
            }
        }
    }
}
