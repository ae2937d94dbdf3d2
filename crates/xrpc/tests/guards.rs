//! The server's guards on a real socket: the per-client rate limit, the header-read timeout
//! (slow loris), the connection cap, the request timeout, the inbox lookup cap and the
//! reason cap.

use std::time::{Duration, Instant};

use store::{Batch, Change, ReaderOptions, RecordInput, Status, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use xrpc::{AppState, ServerConfig};

use crate::support::http::Conn;
use crate::support::seed::{inbox, put, verdict};
use crate::support::server::TestServer;

const HEALTH: &str = "/xrpc/_health";

/// Reads until the server closes the connection (or 10 s pass); what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| got)
}

/// Waits (up to 5 s) until a new connection from 127.0.0.1 is served: a place freed by a
/// closed connection is reused.
/// A server limited by `cfg` to two connections (in all or per client), both taken by one
/// client and answering: the two held connections, and what a third got before its close.
async fn two_held_and_a_third_refused(cfg: ServerConfig) -> (TestServer, Conn, Conn, String) {
    let s = TestServer::start_limited(cfg).await;
    let mut a = s.conn().await;
    let mut b = s.conn().await;
    assert_eq!(a.get(HEALTH).await.unwrap().status, 200);
    assert_eq!(b.get(HEALTH).await.unwrap().status, 200);
    let mut third = TcpStream::connect(s.addr).await.unwrap();
    let got = read_until_closed(&mut third).await.expect("closed at once");
    let answer = String::from_utf8_lossy(&got).into_owned();
    (s, a, b, answer)
}

async fn a_new_connection_is_served(s: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = s.conn().await;
        if let Ok(r) = c.get(HEALTH).await
            && r.status == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was never reused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_rate_limit_headers() {
    let s = TestServer::start_limited(ServerConfig {
        rate_limit: 1,
        ..ServerConfig::default()
    })
    .await;
    let mut c = s.conn().await;
    // Burst 2N = 2.
    let first = c.get(HEALTH).await.unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), Some("2"));
    assert_eq!(first.header("ratelimit-remaining"), Some("1"));
    assert_eq!(first.header("ratelimit-policy"), Some("2;w=2"));
    assert_eq!(first.header("x-content-type-options"), Some("nosniff"));
    let second = c
        .get("/xrpc/org.xmtp.identity.resolveActor?actor=alice.test")
        .await
        .unwrap();
    assert_eq!(second.status, 200);
    assert_eq!(second.header("ratelimit-remaining"), Some("0"));

    // Every route counts, a new connection from the same address included.
    let mut other = s.conn().await;
    let r = other.get("/").await.unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"], "RateLimitExceeded");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("1 requests per second")
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("ratelimit-limit"), Some("2"));
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("ratelimit-reset"), Some("2"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("retry-after")
    );

    // After Retry-After, the client is served again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(c.get(HEALTH).await.unwrap().status, 200);

    // 0 disables the limiter.
    let open = TestServer::start_limited(ServerConfig {
        rate_limit: 0,
        ..ServerConfig::default()
    })
    .await;
    let mut c = open.conn().await;
    for _ in 0..50 {
        let r = c.get(HEALTH).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-limit"), None);
    }
}

#[tokio::test]
async fn a_slow_loris_is_closed_after_the_header_read_timeout() {
    let timeout = Duration::from_millis(400);
    let s = TestServer::start_limited(ServerConfig {
        header_read_timeout: timeout,
        ..ServerConfig::unlimited()
    })
    .await;

    // A head trickled one header every 100 ms never completes.
    let stream = TcpStream::connect(s.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let _ = write
            .write_all(b"GET /xrpc/_health HTTP/1.1\r\nhost: x\r\n")
            .await;
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let line = format!("x-slow-{i}: y\r\n");
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), read.read_to_end(&mut got)).await;
    let elapsed = started.elapsed();
    trickle.abort();
    assert!(
        closed.is_ok(),
        "the slow loris was still connected after 5 s"
    );
    assert!(elapsed >= timeout, "closed after {elapsed:?}");
    let answer = String::from_utf8_lossy(&got);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    // An idle keep-alive connection is closed after the same timeout; a polite client is
    // served on it before that.
    let mut polite = TcpStream::connect(s.addr).await.unwrap();
    polite
        .write_all(b"GET /xrpc/_health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let got = read_until_closed(&mut polite)
        .await
        .expect("idle connection closed");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() >= timeout);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_answered_503_and_closed() {
    let (s, mut a, b, answer) = two_held_and_a_third_refused(ServerConfig {
        max_connections: 2,
        ..ServerConfig::unlimited()
    })
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#"{"error":"Overloaded","message":"too many open connections"}"#));
    // The two held connections are unaffected.
    assert_eq!(a.get(HEALTH).await.unwrap().status, 200);

    // Closing one frees its place.
    drop(b);
    a_new_connection_is_served(&s).await;
}

#[tokio::test]
async fn a_client_beyond_its_connection_cap_is_answered_429_and_others_are_not() {
    let (s, mut a, b, answer) = two_held_and_a_third_refused(ServerConfig {
        max_connections_per_client: 2,
        ..ServerConfig::unlimited()
    })
    .await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: serde_json::Value =
        serde_json::from_str(body).expect("a JSON body of the stated length");
    assert_eq!(json["error"], "RateLimitExceeded");
    assert_eq!(
        json["message"],
        "too many open connections from this address"
    );

    // Another address has its own budget.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(s.addr).await.unwrap();
    other
        .write_all(b"GET /xrpc/_health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut other).await.expect("answered");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));

    // Closing one of the client's connections frees its place.
    drop(b);
    a_new_connection_is_served(&s).await;
    assert_eq!(a.get(HEALTH).await.unwrap().status, 200);
}

/// Replaces `links` with a view whose rows never come: every query of links runs forever
/// unless interrupted.
fn make_link_queries_endless(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TABLE links;
         CREATE VIEW links AS
           WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c)
           SELECT 'did:plc:' || n AS did, NULL AS handle, 'i' AS inbox_id,
                  'verified' AS status, NULL AS reason, 'c' AS record_cid, 's' AS signature,
                  'd' AS created_at, NULL AS installation_key, NULL AS verified_at,
                  0 AS indexed_at, 0 AS hidden
           FROM c WHERE n < 0;",
    )
    .unwrap();
}

#[tokio::test]
async fn a_timed_out_request_answers_xrpc_json_and_frees_its_database_permit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let store = Store::open(&path).unwrap();
    make_link_queries_endless(&path);
    // One read connection: a query left running would block every later read.
    let reader = store::Reader::open_read_only_with(
        &path,
        ReaderOptions {
            connections: 1,
            ..ReaderOptions::default()
        },
    )
    .unwrap();
    let app = xrpc::router(AppState::new(reader.clone(), "t"));
    let s = TestServer::run_app(
        dir,
        store,
        app,
        ServerConfig {
            request_timeout: Duration::from_millis(300),
            ..ServerConfig::unlimited()
        },
    )
    .await;
    let mut c = s.conn().await;
    let started = Instant::now();
    let r = c
        .get("/xrpc/org.xmtp.identity.listLinks?status=all")
        .await
        .unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"], "RequestTimeout");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The query was interrupted: its permit is back and the next read is served.
    let deadline = Instant::now() + Duration::from_secs(5);
    while reader.available_permits() == 0 {
        assert!(
            Instant::now() < deadline,
            "the timed-out query still holds its permit"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = c.get("/xrpc/org.xmtp.identity.getStatus").await.unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

async fn apply(store: &Store, changes: Vec<Change>) {
    store.writer().apply(Batch::of(changes)).await.unwrap();
}

#[tokio::test]
async fn inbox_lookups_list_at_most_100_links_and_keep_the_verified_ones() {
    let s = TestServer::start().await;
    let target = inbox(77);
    let mut changes = Vec::new();
    for n in 0..150 {
        changes.push(put(&format!("did:plc:claim{n:04}"), "bafyclaim", &target));
    }
    changes.push(put("did:plc:zzowner", "bafyowner", &target));
    changes.push(verdict("did:plc:zzowner", "bafyowner", Status::Verified));
    apply(&s.store, changes).await;

    let r = s
        .get(&format!(
            "/xrpc/org.xmtp.identity.resolveInbox?inboxId={target}"
        ))
        .await;
    assert_eq!(r.status, 200);
    let links = r.json()["links"].as_array().unwrap().clone();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["did"], "did:plc:zzowner");

    let r = s
        .get(&format!(
            "/xrpc/org.xmtp.identity.resolveInbox?inboxId={target}&includeUnverified=true"
        ))
        .await;
    let links = r.json()["links"].as_array().unwrap().clone();
    assert_eq!(links.len(), 100);
    assert!(links.iter().any(|l| l["did"] == "did:plc:zzowner"));
    assert_eq!(links[0]["did"], "did:plc:claim0000");

    let r = s
        .get(&format!(
            "/xrpc/org.xmtp.identity.resolveInboxes?inboxIds={target}&inboxIds={}&includeUnverified=true",
            inbox(1)
        ))
        .await;
    let v = r.json();
    assert_eq!(v["inboxes"][0]["links"].as_array().unwrap().len(), 100);
    assert_eq!(v["inboxes"][1]["links"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_malformed_record_cannot_blow_up_list_links() {
    let s = TestServer::start().await;
    let mut changes = Vec::new();
    for n in 0..20 {
        changes.push(Change::PutRecord {
            did: testkit::ids::did(&format!("did:plc:huge{n:02}")),
            rev: None,
            record: RecordInput {
                cid: testkit::ids::cid("bafyhuge"),
                inbox_id: inbox(5),
                verification_signature: "c2ln".into(),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                malformed: Some(format!("invalid rkey {}", "k".repeat(1 << 20))),
            },
        });
    }
    apply(&s.store, changes).await;
    let r = s
        .get("/xrpc/org.xmtp.identity.listLinks?status=invalid&limit=1000")
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let links = v["links"].as_array().unwrap();
    assert_eq!(links.len(), 21, "20 malformed and the seeded invalid link");
    for l in links {
        assert!(l["reason"].as_str().unwrap().len() <= store::MAX_REASON_BYTES);
    }
    assert!(r.body.len() < 64 * 1024, "{} bytes", r.body.len());
}
