//! The guard against real servers on loopback (plain and TLS), with a fixed DNS table.
//!
//! To test refusals of *private* targets without leaving the machine, the policy's
//! `is_public` is replaced by [`test_public`]: 127.0.0.1 stands in for a public host, while
//! 127.0.0.2 (also loopback on Linux) and every really non-public range stay private.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

use super::*;

const CERT: &[u8] = include_bytes!("../testdata/cert.pem");
const KEY: &[u8] = include_bytes!("../testdata/key.pem");

/// 127.0.0.1 plays a public host; everything else follows the real rule.
fn test_public(ip: IpAddr) -> bool {
    ip == IpAddr::from([127, 0, 0, 1]) || is_public_ip(ip)
}

/// What a test server answers.
#[derive(Clone)]
enum Reply {
    /// A status line and headers (without the blank line), then a body.
    Fixed(String, Vec<u8>),
    /// A chunked body that never ends.
    Endless,
    /// Headers, then one body byte every 100 ms, forever.
    Trickle,
    /// Nothing, ever (the connection stays open).
    Silent,
}

struct Server {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    fn port(&self) -> u16 {
        self.addr.port()
    }
}

fn tls_acceptor() -> TlsAcceptor {
    use pki_types::pem::PemObject;
    let certs = pki_types::CertificateDer::pem_slice_iter(CERT)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = pki_types::PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// Serves `reply` on `ip:0` (TLS when `tls`), counting requests whose head was read.
async fn serve(ip: &str, tls: bool, reply: Reply) -> Server {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let acceptor = tls.then(tls_acceptor);
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (reply, counter, acceptor) = (reply.clone(), counter.clone(), acceptor.clone());
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(tcp).await {
                            answer(s, reply, counter).await;
                        }
                    }
                    None => answer(tcp, reply, counter).await,
                }
            });
        }
    });
    Server { addr, hits }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, reply: Reply, hits: Arc<AtomicUsize>) {
    if let Reply::Silent = reply {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    match reply {
        Reply::Fixed(head, body) => {
            let _ = s
                .write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
                .await;
            let _ = s.write_all(&body).await;
            let _ = s.shutdown().await;
        }
        Reply::Endless => {
            let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = [b"1000\r\n".as_slice(), &[b'x'; 4096], b"\r\n"].concat();
            while s.write_all(&chunk).await.is_ok() {}
        }
        Reply::Trickle => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while s.write_all(b"x").await.is_ok() && s.flush().await.is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Reply::Silent => {}
    }
}

fn ok(body: &str) -> Reply {
    Reply::Fixed(
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}", body.len()),
        body.as_bytes().to_vec(),
    )
}

fn redirect(to: &str) -> Reply {
    Reply::Fixed(
        format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0"),
        Vec::new(),
    )
}

fn lookup() -> StaticLookup {
    let (one, two) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
    StaticLookup::default()
        .with("pds.test", &[one])
        .with("evil.test", &[two])
        .with("metadata.test", &["169.254.169.254".parse().unwrap()])
        .with("mixed.test", &["10.0.0.1".parse().unwrap(), one])
}

fn policy(allow_private: bool) -> Policy {
    Policy {
        allow_private,
        connect_timeout: Duration::from_secs(2),
        header_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(10),
        lookup: Some(Arc::new(lookup())),
        is_public: test_public,
        ..Policy::default()
    }
}

/// A client that trusts the test certificate (self-signed) but is otherwise as built.
fn client(policy: Policy) -> GuardedClient {
    GuardedClient::with_builder(policy, |b| b.tls_danger_accept_invalid_certs(true)).unwrap()
}

fn forbidden(r: Result<Fetched, NetError>) -> String {
    match r {
        Err(NetError::Forbidden(why)) => why,
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn a_public_host_is_fetched_through_the_guard() {
    let s = serve("127.0.0.1", true, ok("hello")).await;
    let c = client(policy(false));
    for host in ["pds.test", "mixed.test", "127.0.0.1"] {
        let f = c
            .get(&format!("https://{host}:{}/x", s.port()), 100)
            .await
            .unwrap();
        assert_eq!(f.status, 200);
        assert_eq!(f.body, b"hello");
    }
    assert_eq!(s.hits(), 3);
}

#[tokio::test]
async fn a_private_dns_answer_is_refused_at_connect_time() {
    let s = serve("127.0.0.2", true, ok("inside")).await;
    let c = client(policy(false));
    let why = forbidden(
        c.get(&format!("https://evil.test:{}/", s.port()), 100)
            .await,
    );
    assert!(
        why.contains("evil.test resolves only to non-public addresses"),
        "{why}"
    );
    let why = forbidden(c.get("https://metadata.test/latest/meta-data/", 100).await);
    assert!(why.contains("169.254.169.254"), "{why}");
    assert_eq!(s.hits(), 0);
    // The same server is reachable when private networks are allowed: the guard refused it.
    let open = client(policy(true));
    let f = open
        .get(&format!("https://evil.test:{}/", s.port()), 100)
        .await;
    assert_eq!(f.unwrap().body, b"inside");
}

#[tokio::test]
async fn private_literals_and_localhost_spellings_are_refused_before_connecting() {
    let s = serve("127.0.0.1", true, ok("hello")).await;
    let c = client(Policy {
        is_public: is_public_ip,
        ..policy(false)
    });
    let p = s.port();
    for (url, why) in [
        (
            format!("https://127.0.0.1:{p}/"),
            "address 127.0.0.1 is not public",
        ),
        (format!("https://[::1]:{p}/"), "address ::1 is not public"),
        (format!("https://localhost:{p}/"), "host localhost is local"),
        (
            format!("https://localhost.:{p}/"),
            "host localhost. is local",
        ),
        (
            format!("https://pds.localhost:{p}/"),
            "host pds.localhost is local",
        ),
        (format!("http://pds.test:{p}/"), "scheme http not allowed"),
        (
            "https://169.254.169.254/".into(),
            "address 169.254.169.254 is not public",
        ),
    ] {
        assert_eq!(forbidden(c.get(&url, 100).await), why, "{url}");
    }
    assert_eq!(s.hits(), 0);
}

#[tokio::test]
async fn a_redirect_inward_is_refused() {
    let inside = serve("127.0.0.2", true, ok("inside")).await;
    let c = client(policy(false));
    for (to, why) in [
        (
            format!("https://127.0.0.2:{}/", inside.port()),
            "address 127.0.0.2 is not public",
        ),
        (
            format!("https://evil.test:{}/", inside.port()),
            "evil.test resolves only to non-public addresses",
        ),
        (
            format!("https://localhost.:{}/", inside.port()),
            "host localhost. is local",
        ),
        (
            "https://169.254.169.254/latest/meta-data/".into(),
            "address 169.254.169.254 is not public",
        ),
    ] {
        let outside = serve("127.0.0.1", true, redirect(&to)).await;
        let got = forbidden(
            c.get(&format!("https://pds.test:{}/", outside.port()), 100)
                .await,
        );
        assert!(got.contains(why), "{to}: {got}");
        assert_eq!(outside.hits(), 1);
    }
    assert_eq!(inside.hits(), 0);
}

#[tokio::test]
async fn a_redirect_from_https_to_http_is_refused_even_with_private_networks() {
    let plain = serve("127.0.0.1", false, ok("plain")).await;
    let to = format!("http://127.0.0.1:{}/", plain.port());
    let tls = serve("127.0.0.1", true, redirect(&to)).await;
    for allow_private in [false, true] {
        let got = forbidden(
            client(policy(allow_private))
                .get(&format!("https://pds.test:{}/", tls.port()), 100)
                .await,
        );
        assert_eq!(got, "redirect from https to http");
    }
    assert_eq!(plain.hits(), 0);
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let target = serve("127.0.0.1", true, ok("landed")).await;
    let hop = serve(
        "127.0.0.1",
        true,
        redirect(&format!("https://pds.test:{}/", target.port())),
    )
    .await;
    let c = client(policy(false));
    let f = c
        .get(&format!("https://pds.test:{}/", hop.port()), 100)
        .await
        .unwrap();
    assert_eq!(
        (f.status.as_u16(), f.body.as_slice()),
        (200, b"landed".as_slice())
    );
    assert_eq!(f.url.port(), Some(target.port()));

    let lp = serve("127.0.0.1", true, redirect("/again")).await;
    let got = c
        .get(&format!("https://pds.test:{}/", lp.port()), 100)
        .await;
    assert_eq!(got.unwrap_err(), NetError::TooManyRedirects(3));
    assert_eq!(lp.hits(), 4, "the first request and three redirects");
}

#[tokio::test]
async fn an_oversize_content_length_is_refused_before_reading() {
    let s = serve(
        "127.0.0.1",
        true,
        Reply::Fixed(
            "HTTP/1.1 200 OK\r\nContent-Length: 10000000".into(),
            vec![b'x'; 10],
        ),
    )
    .await;
    let got = client(policy(false))
        .get(&format!("https://pds.test:{}/", s.port()), 1000)
        .await;
    let err = got.unwrap_err();
    assert_eq!(err, NetError::TooLarge { limit: 1000 });
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_endless_chunked_body_stops_at_the_cap() {
    let s = serve("127.0.0.1", true, Reply::Endless).await;
    let started = std::time::Instant::now();
    let got = client(policy(false))
        .get(&format!("https://pds.test:{}/", s.port()), 1_000_000)
        .await;
    assert_eq!(got.unwrap_err(), NetError::TooLarge { limit: 1_000_000 });
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_on_headers() {
    let s = serve("127.0.0.1", false, Reply::Silent).await;
    let c = GuardedClient::new(Policy {
        header_timeout: Duration::from_millis(300),
        ..policy(true)
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = c
        .get(&format!("http://127.0.0.1:{}/", s.port()), 100)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, NetError::Timeout(why) if why.contains("no response headers")),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_trickling_body_times_out_on_the_total_deadline() {
    let s = serve("127.0.0.1", false, Reply::Trickle).await;
    let c = GuardedClient::new(Policy {
        total_timeout: Duration::from_millis(700),
        ..policy(true)
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = c
        .get(&format!("http://127.0.0.1:{}/", s.port()), 10_000_000)
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn devnet_loopback_over_http_works_when_private_networks_are_allowed() {
    let s = serve("127.0.0.1", false, ok("devnet")).await;
    let c = GuardedClient::new(Policy::with_timeout(true, Duration::from_secs(5), "t")).unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let f = c
            .get(&format!("http://{host}:{}/", s.port()), 100)
            .await
            .unwrap();
        assert_eq!(f.body, b"devnet", "{host}");
    }
    let strict = GuardedClient::new(Policy::with_timeout(false, Duration::from_secs(5), "t"));
    let got = strict
        .unwrap()
        .get(&format!("http://127.0.0.1:{}/", s.port()), 100)
        .await;
    assert_eq!(forbidden(got), "scheme http not allowed");
}

#[tokio::test]
async fn network_faults_are_transient_and_refusals_are_not() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(policy(false));
    let refused = c.get(&format!("https://pds.test:{port}/"), 100).await;
    let err = refused.unwrap_err();
    assert!(matches!(err, NetError::Network(_)), "{err:?}");
    assert!(err.is_transient());
    let unknown = c.get("https://nowhere.test/", 100).await.unwrap_err();
    assert!(matches!(unknown, NetError::Network(_)), "{unknown:?}");
    let refusal = c.get("https://localhost/", 100).await.unwrap_err();
    assert!(!refusal.is_transient());
    assert!(matches!(
        c.get("not a url", 100).await,
        Err(NetError::BadUrl(_))
    ));
}

#[tokio::test]
async fn status_errors_say_whether_to_retry() {
    let s = serve(
        "127.0.0.1",
        true,
        Reply::Fixed("HTTP/1.1 503 Busy\r\nContent-Length: 0".into(), Vec::new()),
    )
    .await;
    let f = client(policy(false))
        .get(&format!("https://pds.test:{}/", s.port()), 100)
        .await
        .unwrap();
    assert!(f.is_transient_status());
    let err = f.error_for_status().unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(!NetError::Status(reqwest::StatusCode::NOT_FOUND).is_transient());
}
