//! `_health`, `/metrics`, `/.well-known/did.json`, CORS and graceful shutdown.

use crate::support::http::Conn;
use crate::support::server::{TestServer, metrics_handle};

#[tokio::test]
async fn health_reports_the_version() {
    let s = TestServer::start().await;
    let r = s.get("/xrpc/_health").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"version": "1.2.3-test"}));
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_never_on_the_public_one() {
    let handle = metrics_handle();
    let s = TestServer::start().await;
    assert_eq!(s.get("/xrpc/_health").await.status, 200);
    let r = s.get("/xrpc/org.xmtp.identity.getStatus").await;
    assert_eq!(r.status, 200);
    let r = s.get("/metrics").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "NotFound");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(xrpc::serve_with(
        listener,
        xrpc::metrics_router(handle),
        xrpc::ServerConfig::unlimited(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut c = Conn::connect(addr).await.unwrap();
    let r = c.get("/metrics").await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.contains("xrpc_requests_total"), "{text}");
    assert!(
        text.contains("method=\"org.xmtp.identity.getStatus\""),
        "{text}"
    );
    // The metrics listener serves nothing else.
    let r = c.get("/xrpc/_health").await.unwrap();
    assert_eq!(r.status, 404);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn did_json_is_served_only_for_a_configured_did_web() {
    let s = TestServer::start_with(|st| st.with_service_did("did:web:appview.example.com")).await;
    let r = s.get("/.well-known/did.json").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["id"], "did:web:appview.example.com");
    assert_eq!(
        v["service"][0],
        serde_json::json!({
            "id": "#xmtp_appview",
            "type": "XmtpAppView",
            "serviceEndpoint": "https://appview.example.com"
        })
    );
    let s = TestServer::start().await;
    assert_eq!(s.get("/.well-known/did.json").await.status, 404);
    let s = TestServer::start_with(|st| st.with_service_did("did:plc:abc")).await;
    assert_eq!(s.get("/.well-known/did.json").await.status, 404);
}

#[tokio::test]
async fn cors_lets_browser_apps_read_answers_and_rate_limit_headers() {
    let s = TestServer::start().await;
    let mut c = s.conn().await;
    let r = c
        .send(
            "OPTIONS",
            "/xrpc/org.xmtp.identity.resolveActor",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await
        .unwrap();
    assert!(r.status == 200 || r.status == 204, "{}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("GET")
    );
    let r = c
        .send(
            "GET",
            "/xrpc/org.xmtp.identity.resolveActor?actor=alice.test",
            &[("origin", "https://app.example")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("ratelimit-remaining")
    );
}

#[tokio::test]
async fn shutdown_lets_the_server_finish_cleanly() {
    let s = TestServer::start().await;
    let mut idle = s.conn().await;
    assert_eq!(idle.get("/xrpc/_health").await.unwrap().status, 200);
    let addr = s.addr;
    tokio::time::timeout(std::time::Duration::from_secs(10), s.stop())
        .await
        .expect("graceful shutdown finishes")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
