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

/// What a stand-in service answers a gRPC call with.
pub(super) type Answer =
    Pin<Box<dyn std::future::Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

/// Makes `$service` a tonic service named `$name` whose every call goes to its inherent
/// `fn route(&self, req: http::Request<Body>) -> Answer`.
macro_rules! grpc_service {
    ($service:ty, $name:expr) => {
        impl ::tonic::server::NamedService for $service {
            const NAME: &'static str = $name;
        }

        impl ::tonic::codegen::Service<::tonic::codegen::http::Request<::tonic::body::Body>>
            for $service
        {
            type Response = ::tonic::codegen::http::Response<::tonic::body::Body>;
            type Error = ::std::convert::Infallible;
            type Future = $crate::xmtp::service::Answer;

            fn poll_ready(
                &mut self,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), ::std::convert::Infallible>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            fn call(
                &mut self,
                req: ::tonic::codegen::http::Request<::tonic::body::Body>,
            ) -> Self::Future {
                self.route(req)
            }
        }
    };
}
pub(super) use grpc_service;

/// `xmtp.identity.api.v1.IdentityApi` over the stand-in's state.
#[derive(Clone)]
pub(super) struct IdentityService {
    shared: Arc<Shared>,
}

grpc_service!(IdentityService, pb::SERVICE_NAME);

impl IdentityService {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn route(&self, req: http::Request<Body>) -> Answer {
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
