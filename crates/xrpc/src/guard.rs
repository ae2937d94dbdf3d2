//! The guards around the whole HTTP surface, whatever routes it has: per-client rate limit,
//! CORS, `nosniff`, the cap on requests in flight, and the request timeout, each answered as
//! an XRPC error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::config::ServerConfig;
use crate::error::XrpcError;
use crate::rate_limit::{Decision, RateLimiter};

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Headers that browser apps may read.
const EXPOSED: [HeaderName; 5] = [
    RATELIMIT_LIMIT,
    RATELIMIT_REMAINING,
    RATELIMIT_RESET,
    RATELIMIT_POLICY,
    header::RETRY_AFTER,
];

/// The rate limiter and its fixed `RateLimit-Limit` / `RateLimit-Policy` values.
struct Limiter {
    table: RateLimiter,
    limit: HeaderValue,
    policy: HeaderValue,
}

/// Wraps `app` in every guard of `cfg` (outermost first): tracing, the per-client rate
/// limit, CORS, `X-Content-Type-Options: nosniff`, the cap on requests in flight and the
/// request timeout.
pub(crate) fn harden(app: Router, cfg: &ServerConfig) -> Router {
    let in_flight = Arc::new(Semaphore::new(
        cfg.max_in_flight.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let timeout = cfg.request_timeout;
    let mut app = app
        .layer(middleware::from_fn_with_state(timeout, request_timeout))
        .layer(middleware::from_fn_with_state(in_flight, cap_in_flight))
        .layer(middleware::from_fn(nosniff))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
                .allow_headers(Any)
                .expose_headers(EXPOSED)
                .max_age(Duration::from_secs(86_400)),
        );
    if cfg.rate_limit > 0 {
        let table = RateLimiter::new(cfg.rate_limit, cfg.rate_limit_clients);
        let limit = HeaderValue::from(table.burst());
        // The burst is spent in 2 s at the steady rate: `2N` requests per 2 s window.
        let policy = HeaderValue::try_from(format!("{};w=2", table.burst()))
            .unwrap_or_else(|_| HeaderValue::from_static("0;w=2"));
        tracing::debug!(rate = table.rate(), "per-client rate limit on");
        let limiter = Arc::new(Limiter {
            table,
            limit,
            policy,
        });
        app = app.layer(middleware::from_fn_with_state(limiter, rate_limit));
    }
    // Server faults are logged once by `XrpcError`, so the trace layer does not log them.
    app.layer(TraceLayer::new_for_http().on_failure(()))
}

fn set_rate_headers(headers: &mut HeaderMap, limiter: &Limiter, d: &Decision) {
    headers.insert(RATELIMIT_LIMIT, limiter.limit.clone());
    headers.insert(RATELIMIT_REMAINING, HeaderValue::from(d.remaining));
    headers.insert(RATELIMIT_RESET, HeaderValue::from(d.reset_secs));
    headers.insert(RATELIMIT_POLICY, limiter.policy.clone());
}

/// Counts the request against its client IP; over the limit it is answered 429
/// `RateLimitExceeded` with `Retry-After`. Every answer carries the `RateLimit-*` headers.
/// Requests with no peer address (served in-process) are not limited.
async fn rate_limit(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        return next.run(req).await;
    };
    let decision = limiter.table.check(peer.ip());
    if !decision.allowed {
        metrics::counter!("xrpc_rate_limited_total").increment(1);
        let mut response = XrpcError::RateLimitExceeded(format!(
            "more than {} requests per second from this client; retry after {} s",
            limiter.table.rate(),
            decision.retry_after_secs
        ))
        .into_response();
        let headers = response.headers_mut();
        set_rate_headers(headers, &limiter, &decision);
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(decision.retry_after_secs),
        );
        // Answered before CORS: let browser apps read the refusal too.
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(
                "ratelimit-limit,ratelimit-remaining,ratelimit-reset,ratelimit-policy,retry-after",
            ),
        );
        return response;
    }
    let mut response = next.run(req).await;
    set_rate_headers(response.headers_mut(), &limiter, &decision);
    response
}

/// `X-Content-Type-Options: nosniff` on every answer.
async fn nosniff(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Holds one of `max_in_flight` permits for the request; none left: 503 `Overloaded`.
async fn cap_in_flight(
    State(permits): State<Arc<Semaphore>>,
    req: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = permits.try_acquire() else {
        metrics::counter!("xrpc_overloaded_total").increment(1);
        return XrpcError::Overloaded("too many requests in flight; retry shortly".into())
            .into_response();
    };
    next.run(req).await
}

/// Answers 503 `RequestTimeout` when the request is not answered in time. Dropping the
/// handler's future interrupts its query (see `store::Reader`), which frees its permit.
async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("xrpc_request_timeouts_total").increment(1);
            XrpcError::RequestTimeout(format!(
                "the request was not answered within {} s",
                limit.as_secs_f64()
            ))
            .into_response()
        }
    }
}
