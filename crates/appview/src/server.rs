//! The HTTP surface of the binary: the XRPC router plus the status page at `/`, served inside
//! the guards of `xrpc::serve_with` until shutdown with in-flight requests completed, and
//! `/metrics` on its own listener when `--metrics-listen` is given.

use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::HttpOptions;

/// The status page: index counts, firehose lag and a lookup box, plain HTML and a little JS
/// that calls the XRPC methods (no build step).
const STATUS_PAGE: &str = include_str!("../assets/status.html");

/// The version every surface reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The User-Agent of every outbound HTTP request.
pub const USER_AGENT: &str = concat!("xmtp-appview/", env!("CARGO_PKG_VERSION"));

/// The Content-Security-Policy of the status page: nothing but its own inline script and
/// style (by hash), calls to this origin, and no framing.
static STATUS_PAGE_CSP: LazyLock<String> = LazyLock::new(|| content_security_policy(STATUS_PAGE));

/// `'sha256-…'` of the text of every `<tag>` element of `html`, as CSP source expressions.
fn inline_hashes(html: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        out.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[end + close.len()..];
    }
    out
}

/// The CSP that allows exactly the inline `<script>` and `<style>` elements of `html`.
fn content_security_policy(html: &str) -> String {
    let scripts = inline_hashes(html, "script").join(" ");
    let styles = inline_hashes(html, "style").join(" ");
    format!(
        "default-src 'none'; script-src {scripts}; style-src {styles}; connect-src 'self'; \
         img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The status page with its security headers.
async fn status_page() -> Response {
    let mut response = Html(STATUS_PAGE).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&STATUS_PAGE_CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Installs the global Prometheus recorder once and returns its handle for `/metrics`.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("install the metrics recorder: {e}"))?;
    xrpc::describe_metrics();
    firehose::metrics::describe();
    store::describe_metrics();
    verifier::describe_metrics();
    xmtp::client::describe_metrics();
    backfill::metrics::describe();
    netguard::describe_metrics();
    Ok(handle)
}

/// The whole public router: XRPC, health, did.json and the status page.
pub fn app(state: xrpc::AppState) -> Router {
    xrpc::router(state).route("/", get(status_page))
}

/// Binds `listen` and serves `state` until `shutdown` is cancelled.
pub async fn serve(
    listen: SocketAddr,
    state: xrpc::AppState,
    http: HttpOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("bind {listen}: {e}"))?;
    tracing::info!(%listen, rate_limit = http.server.rate_limit, "XRPC server listening");
    serve_on_with(listener, state, http.server, shutdown).await
}

/// Serves `state` on an already bound listener with the default limits until `shutdown` is
/// cancelled.
pub async fn serve_on(
    listener: TcpListener,
    state: xrpc::AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve_on_with(listener, state, xrpc::ServerConfig::default(), shutdown).await
}

/// Serves `state` on an already bound listener with the limits of `cfg` until `shutdown`
/// is cancelled.
pub async fn serve_on_with(
    listener: TcpListener,
    state: xrpc::AppState,
    cfg: xrpc::ServerConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let served = xrpc::serve_with(listener, app(state.clone()), cfg, async move {
        shutdown.cancelled().await
    })
    .await;
    // Subscriptions outlive their HTTP connection (upgraded): end them too.
    state.close_link_feed();
    served?;
    Ok(())
}

/// Binds the metrics listener: `/metrics` only, no rate limit (it is not public).
pub async fn bind_metrics(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("bind --metrics-listen {listen}: {e}"))?;
    tracing::info!(%listen, "metrics listening");
    Ok(listener)
}

/// Serves `/metrics` from `handle` on `listener` until `shutdown` is cancelled.
pub async fn serve_metrics(
    listener: TcpListener,
    handle: PrometheusHandle,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    xrpc::serve_with(
        listener,
        xrpc::metrics_router(handle),
        xrpc::ServerConfig::unlimited(),
        async move { shutdown.cancelled().await },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Serves the public app and the metrics listener over a fresh index; their addresses.
    async fn start(shutdown: &CancellationToken) -> (SocketAddr, SocketAddr, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = store::Store::open(&dir.path().join("index.sqlite")).unwrap();
        let state = xrpc::AppState::new(store.reader(), VERSION);
        let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public_addr = public.local_addr().unwrap();
        tokio::spawn(serve_on(public, state, shutdown.clone()));
        let handle = PrometheusBuilder::new().build_recorder().handle();
        let metrics = bind_metrics("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let metrics_addr = metrics.local_addr().unwrap();
        tokio::spawn(serve_metrics(metrics, handle, shutdown.clone()));
        (public_addr, metrics_addr, dir)
    }

    #[tokio::test]
    async fn the_status_page_sends_security_headers_and_metrics_stay_off_the_public_listener() {
        let shutdown = CancellationToken::new();
        let (public, metrics, _dir) = start(&shutdown).await;
        let client = reqwest::Client::new();

        let page = client
            .get(format!("http://{public}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let h = page.headers();
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = h["content-security-policy"].to_str().unwrap();
        assert_eq!(csp, STATUS_PAGE_CSP.as_str());
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        // The page is rate limited like every route (loopback is not exempt).
        assert_eq!(h["ratelimit-limit"], "200");

        let r = client
            .get(format!("http://{public}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = client
            .get(format!("http://{metrics}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let r = client
            .get(format!("http://{metrics}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "the metrics listener serves /metrics only");
        shutdown.cancel();
    }

    #[test]
    fn the_csp_allows_exactly_the_inline_script_and_style_of_the_page() {
        let html = "<style>a{}</style><p>x</p><script>go()</script><script>more()</script>";
        let csp = content_security_policy(html);
        let hash = |s: &str| {
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
            )
        };
        assert!(
            csp.contains(&format!("script-src {} {};", hash("go()"), hash("more()"))),
            "{csp}"
        );
        assert!(
            csp.contains(&format!("style-src {};", hash("a{}"))),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        // The real page has one script and one style, both covered.
        assert_eq!(inline_hashes(STATUS_PAGE, "script").len(), 1);
        assert_eq!(inline_hashes(STATUS_PAGE, "style").len(), 1);
    }
}
