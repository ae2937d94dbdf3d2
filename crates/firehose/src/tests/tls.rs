//! `wss://`: the client against an in-test TLS WebSocket relay serving the committed test
//! certificates (`testdata/tls/`, see `testdata/PROVENANCE.md`). The test CA is trusted
//! only through `FirehoseConfig::tls_roots` / [`TlsRoots::only`]; a certificate for another
//! name, or one whose root is not trusted, is refused with rustls' reason.

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, CertificateError, ServerConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::support::*;
use crate::frame::Frame;
use crate::ws::{ConnectError, TlsRoots};
use crate::{FirehoseConfig, LiveStatus};
use sync::{StaticAccount, StaticIdentity};
use testkit::atproto::{SynthRepo, Write, inbox_record};

const ALICE: &str = "did:plc:alice2345alice2345alice23";
const INBOX: &str = "3333333333333333333333333333333333333333333333333333333333333333";

fn certs(name: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(vector(&format!("tls/{name}.pem")))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The test CA, as the only trusted root.
fn test_ca() -> TlsRoots {
    TlsRoots::only(certs("ca")).unwrap()
}

/// A TLS acceptor presenting `testdata/tls/<leaf>.pem` (signed by the test CA).
fn acceptor(leaf: &str) -> TlsAcceptor {
    let key = PrivateKeyDer::from_pem_file(vector(&format!("tls/{leaf}.key"))).unwrap();
    let cfg = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs(leaf), key)
        .unwrap();
    TlsAcceptor::from(Arc::new(cfg))
}

/// A `wss://` relay on 127.0.0.1: accepts connections until the test ends, completes the
/// TLS handshake with `leaf`'s certificate, then (when it succeeded) the WebSocket upgrade,
/// sends `frames` and holds the connection open.
async fn relay(leaf: &str, frames: Vec<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = acceptor(leaf);
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue; // the client refused our certificate
            };
            let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
            for f in &frames {
                ws.send(Message::Binary(f.clone().into())).await.unwrap();
            }
            held.push(ws);
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_ingests_over_wss_from_a_relay_signed_by_a_trusted_test_ca() {
    let (_dir, store) = temp_store();
    let identity = Arc::new(StaticIdentity::new());
    let key = repo::PrivateKey::generate(repo::Curve::K256);
    identity.insert(
        ALICE,
        StaticAccount {
            key: key.public_key(),
            pds: "http://127.0.0.1:9".into(),
            handle: Some("alice.test".into()),
        },
    );
    let mut alice = SynthRepo::new(ALICE, key, 1_780_000_000_000_000);
    let rec = inbox_record(INBOX, "AAECAwQFBgc=", "2026-07-04T12:00:00.000Z");
    let frames = vec![
        Frame::Commit(alice.commit(7, &[like(1)])).encode(),
        Frame::Commit(alice.commit(8, &[Write::Put("org.xmtp.inbox/self".into(), rec)])).encode(),
        Frame::Commit(alice.commit(9, &[like(2)])).encode(),
    ];
    let port = relay("localhost", frames).await;
    let cfg = FirehoseConfig {
        relay_url: format!("wss://localhost:{port}"),
        tls_roots: test_ca(),
        batch_interval: Duration::from_millis(20),
        ..FirehoseConfig::default()
    };
    let status = Arc::new(LiveStatus::new());
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(crate::run(
        cfg,
        deps(&store, identity),
        status.clone(),
        shutdown.clone(),
    ));
    let reader = store.reader();
    let mut state = None;
    for _ in 0..500 {
        let fs = reader.firehose_state().await.unwrap();
        if fs.cursor == Some(9) {
            state = Some(fs);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    run.await.unwrap().unwrap();
    let fs = state.expect("cursor reached seq 9 over wss://");
    assert_eq!(fs.frames, 3, "{fs:?}");
    assert_eq!(status.reconnects(), 0, "one TLS connection served it all");
    let link = reader
        .link_by_did(ALICE)
        .await
        .unwrap()
        .expect("alice's link, ingested over wss://");
    assert_eq!(link.inbox_id, INBOX);
    assert_eq!(link.status, store::Status::Pending);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let port = relay("other", Vec::new()).await;
    let r = crate::ws::connect(&format!("wss://localhost:{port}"), 1 << 20, &test_ca()).await;
    match r {
        Err(ConnectError::Tls(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ))) => {}
        other => panic!(
            "expected a refusal for the name, got {:?}",
            other.map(|_| ())
        ),
    }
}

/// `r` is a TLS refusal because no trusted root issued the relay's certificate.
fn assert_unknown_issuer<T>(r: Result<T, ConnectError>) {
    assert!(
        matches!(
            r,
            Err(ConnectError::Tls(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )))
        ),
        "{:?}",
        r.map(|_| ())
    );
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_root_is_refused() {
    let port = relay("localhost", Vec::new()).await;
    // Production roots (webpki) do not hold the test CA.
    let r = crate::ws::connect(
        &format!("wss://localhost:{port}"),
        1 << 20,
        &TlsRoots::WebPki,
    )
    .await;
    assert_unknown_issuer(r);
    // Nor does a root set that trusts only another certificate (the leaf for other.test,
    // which is no CA).
    let r = crate::ws::connect(
        &format!("wss://127.0.0.1:{port}"),
        1 << 20,
        &TlsRoots::only(certs("other")).unwrap(),
    )
    .await;
    assert_unknown_issuer(r);
}

#[tokio::test]
async fn the_test_ca_also_verifies_the_relay_by_ip_address() {
    let port = relay("localhost", Vec::new()).await;
    let r = crate::ws::connect(&format!("wss://127.0.0.1:{port}"), 1 << 20, &test_ca()).await;
    assert!(r.is_ok(), "{:?}", r.map(|_| ()));
}

#[test]
fn a_root_that_is_not_a_certificate_is_refused() {
    let e = TlsRoots::only([CertificateDer::from(b"not a certificate".to_vec())]).unwrap_err();
    assert!(
        e.to_string().starts_with("unusable TLS root certificate"),
        "{e}"
    );
}
