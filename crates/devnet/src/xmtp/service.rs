//! The hand-written tonic service: dispatches on the gRPC path and runs each method through
//! `tonic::server::Grpc` with `ProstCodec` (no codegen), applying the fault mode first.

use super::FaultMode;
use super::store::Shared;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};
use xmtp::proto::api as pb;

/// A message that never decodes as any of the responses: field 1 holds a sub-message whose
/// first byte declares the invalid wire type 7.
#[derive(Clone, PartialEq, prost::Message)]
struct Garbage {
    #[prost(bytes = "vec", tag = "1")]
    junk: Vec<u8>,
}

/// Adapts a closure into the `UnaryService` tonic's `Grpc::unary` wants.
struct Handler<F>(F);

impl<F, Req, Resp> Service<Request<Req>> for Handler<F>
where
    F: FnMut(Req) -> Result<Resp, Status>,
{
    type Response = Response<Resp>;
    type Error = Status;
    type Future = Ready<Result<Response<Resp>, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Req>) -> Self::Future {
        ready((self.0)(req.into_inner()).map(Response::new))
    }
}

pub(super) async fn unary<Req, Resp, F>(
    req: http::Request<Body>,
    garbage: bool,
    f: F,
) -> http::Response<Body>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnMut(Req) -> Result<Resp, Status> + Send,
{
    if garbage {
        let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<Garbage, Req>::default());
        return grpc
            .unary(
                Handler(|_req: Req| {
                    Ok(Garbage {
                        junk: vec![0x0f; 16],
                    })
                }),
                req,
            )
            .await;
    }
    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default());
    grpc.unary(Handler(f), req).await
}

/// `xmtp.identity.api.v1.IdentityApi` over the stand-in's state.
#[derive(Clone)]
pub(super) struct IdentityService {
    shared: Arc<Shared>,
}

impl IdentityService {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl NamedService for IdentityService {
    const NAME: &'static str = pb::SERVICE_NAME;
}

impl Service<http::Request<Body>> for IdentityService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let path = req.uri().path().to_string();
            shared.count_call(path.rsplit('/').next().unwrap_or(""));
            let latency = shared.latency();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let mode = shared.mode();
            match mode {
                FaultMode::Down => {
                    return Ok(Status::unavailable("devnet: XMTP stand-in is down").into_http());
                }
                FaultMode::RateLimited => {
                    return Ok(
                        Status::resource_exhausted("devnet: rate limit exhausted").into_http()
                    );
                }
                FaultMode::Normal | FaultMode::Garbage | FaultMode::ScwError => {}
            }
            let garbage = mode == FaultMode::Garbage;
            let resp = match path.as_str() {
                pb::PATH_GET_IDENTITY_UPDATES => {
                    let s = shared.clone();
                    unary(req, garbage, move |r: pb::GetIdentityUpdatesRequest| {
                        Ok(s.get_identity_updates(r))
                    })
                    .await
                }
                pb::PATH_GET_INBOX_IDS => {
                    let s = shared.clone();
                    unary(req, garbage, move |r: pb::GetInboxIdsRequest| {
                        Ok(s.get_inbox_ids(r))
                    })
                    .await
                }
                pb::PATH_VERIFY_SCW => {
                    let s = shared.clone();
                    let rpc_down = mode == FaultMode::ScwError;
                    unary(
                        req,
                        garbage,
                        move |r: pb::VerifySmartContractWalletSignaturesRequest| {
                            Ok(s.verify_scw(r, rpc_down))
                        },
                    )
                    .await
                }
                pb::PATH_PUBLISH_IDENTITY_UPDATE => {
                    let s = shared.clone();
                    unary(req, garbage, move |r: pb::PublishIdentityUpdateRequest| {
                        let update = r
                            .identity_update
                            .ok_or_else(|| Status::invalid_argument("missing identity_update"))?;
                        s.publish(update)
                            .map_err(|e| Status::invalid_argument(e.to_string()))?;
                        Ok(pb::PublishIdentityUpdateResponse {})
                    })
                    .await
                }
                _ => Status::unimplemented(format!("devnet: {path} not implemented")).into_http(),
            };
            Ok(resp)
        })
    }
}
