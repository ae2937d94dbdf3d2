//! Resolver tests against a tiny axum server on 127.0.0.1:0 playing PLC directory,
//! did:web host, handle well-known host and resolveHandle service.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use repo::{Curve, PrivateKey};
use serde_json::{Value, json};
use syntax::{Did, Handle};

use crate::{IdentityError, Resolver, ResolverConfig};

#[derive(Default)]
struct World {
    docs: std::sync::Mutex<HashMap<String, Value>>,
    handles: std::sync::Mutex<HashMap<String, String>>,
    /// TXT records by name (without the trailing dot), e.g. `_atproto.alice.test`.
    txt: std::sync::Mutex<HashMap<String, Vec<String>>>,
    /// A records by name (without the trailing dot).
    a: std::sync::Mutex<HashMap<String, std::net::Ipv4Addr>>,
    hits: AtomicUsize,
}

/// A tiny UDP DNS server answering TXT queries from `world.txt` and A queries from
/// `world.a` (NXDOMAIN otherwise).
async fn serve_dns(world: Arc<World>) -> std::net::SocketAddr {
    use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
    use hickory_resolver::proto::rr::rdata::{A, TXT};
    use hickory_resolver::proto::rr::{RData, Record, RecordType};
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp = Message::new();
            resp.set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_recursion_available(true);
            resp.set_op_code(query.op_code())
                .set_recursion_desired(query.recursion_desired());
            let mut found = false;
            for q in query.queries() {
                resp.add_query(q.clone());
                let name = q.name().to_ascii();
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if q.query_type() == RecordType::A {
                    if let Some(ip) = world.a.lock().unwrap().get(&name) {
                        found = true;
                        resp.add_answer(Record::from_rdata(q.name().clone(), 60, RData::A(A(*ip))));
                    }
                    continue;
                }
                if let Some(values) = world.txt.lock().unwrap().get(&name) {
                    found = true;
                    for v in values {
                        resp.add_answer(Record::from_rdata(
                            q.name().clone(),
                            60,
                            RData::TXT(TXT::new(vec![v.clone()])),
                        ));
                    }
                }
            }
            if !found {
                resp.set_response_code(ResponseCode::NXDomain);
            }
            let _ = socket.send_to(&resp.to_vec().unwrap(), peer).await;
        }
    });
    addr
}

fn doc(did: &str, handle: &str, key: &PrivateKey) -> Value {
    json!({
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{"id": format!("{did}#atproto"), "type": "Multikey", "controller": did,
            "publicKeyMultibase": key.public_key().multibase()}],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "http://127.0.0.1:2583"}]
    })
}

async fn plc(State(w): State<Arc<World>>, Path(did): Path<String>) -> (StatusCode, String) {
    w.hits.fetch_add(1, Ordering::SeqCst);
    match did.as_str() {
        "did:plc:gone" => (
            StatusCode::NOT_FOUND,
            json!({"message": format!("DID not available: {did}")}).to_string(),
        ),
        "did:plc:broken" => (StatusCode::INTERNAL_SERVER_ERROR, "oops".into()),
        _ => match w.docs.lock().unwrap().get(&did) {
            Some(d) => (StatusCode::OK, d.to_string()),
            None => (
                StatusCode::NOT_FOUND,
                json!({"message": format!("DID not registered: {did}")}).to_string(),
            ),
        },
    }
}

async fn did_web(State(w): State<Arc<World>>, headers: HeaderMap) -> (StatusCode, String) {
    w.hits.fetch_add(1, Ordering::SeqCst);
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let did = format!("did:web:{}", host.replace(':', "%3A"));
    match w.docs.lock().unwrap().get(&did) {
        Some(d) => (StatusCode::OK, d.to_string()),
        None => (StatusCode::NOT_FOUND, String::new()),
    }
}

async fn well_known(State(w): State<Arc<World>>, headers: HeaderMap) -> (StatusCode, String) {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match w.handles.lock().unwrap().get(&host) {
        Some(d) => (StatusCode::OK, format!("{d}\n")),
        None => (StatusCode::NOT_FOUND, String::new()),
    }
}

async fn resolve_handle(
    State(w): State<Arc<World>>,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    let h = q.get("handle").cloned().unwrap_or_default();
    match w.handles.lock().unwrap().get(&h) {
        Some(d) => (StatusCode::OK, json!({ "did": d }).to_string()),
        None => (
            StatusCode::BAD_REQUEST,
            json!({"error": "HandleNotFound", "message": "no"}).to_string(),
        ),
    }
}

async fn serve(world: Arc<World>) -> String {
    let app = Router::new()
        .route("/.well-known/did.json", get(did_web))
        .route("/.well-known/atproto-did", get(well_known))
        .route(
            "/xrpc/com.atproto.identity.resolveHandle",
            get(resolve_handle),
        )
        .route("/{did}", get(plc))
        .with_state(world);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn config(base: &str) -> ResolverConfig {
    ResolverConfig {
        plc_url: base.to_owned(),
        // Nothing listens there: DNS lookups fail fast as a network fault.
        dns_servers: vec!["127.0.0.1:9".parse().unwrap()],
        dns_timeout: Duration::from_millis(300),
        allow_private_network: true,
        http_timeout: Duration::from_secs(5),
        ttl_err: Duration::from_millis(300),
        min_refresh_interval: Duration::ZERO,
        ..ResolverConfig::default()
    }
}

fn did(s: &str) -> Did {
    Did::parse(s).unwrap()
}

#[tokio::test]
async fn plc_documents_resolve_and_are_cached() {
    let world = Arc::new(World::default());
    let key = PrivateKey::generate(Curve::K256);
    world.docs.lock().unwrap().insert(
        "did:plc:alice".into(),
        doc("did:plc:alice", "alice.test", &key),
    );
    let base = serve(world.clone()).await;
    let r = Resolver::new(config(&base)).unwrap();
    let alice = did("did:plc:alice");
    let d = r.resolve_did(&alice).await.unwrap();
    assert_eq!(d.handle.as_ref().unwrap().as_str(), "alice.test");
    assert_eq!(r.signing_key(&alice).await.unwrap(), key.public_key());
    assert_eq!(r.pds(&alice).await.unwrap(), "http://127.0.0.1:2583");
    assert_eq!(world.hits.load(Ordering::SeqCst), 1, "served from cache");

    // Key rotation: the PLC now has a new key; refresh picks it up.
    let key2 = PrivateKey::generate(Curve::P256);
    world.docs.lock().unwrap().insert(
        "did:plc:alice".into(),
        doc("did:plc:alice", "alice.test", &key2),
    );
    assert_eq!(
        r.signing_key(&alice).await.unwrap(),
        key.public_key(),
        "stale until refreshed"
    );
    r.refresh_did(&alice).await.unwrap();
    assert_eq!(r.signing_key(&alice).await.unwrap(), key2.public_key());
    assert_eq!(world.hits.load(Ordering::SeqCst), 2);
    r.invalidate(&alice);
    r.resolve_did(&alice).await.unwrap();
    assert_eq!(world.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn refresh_is_rate_limited_by_min_refresh_interval() {
    let world = Arc::new(World::default());
    let key = PrivateKey::generate(Curve::K256);
    world.docs.lock().unwrap().insert(
        "did:plc:alice".into(),
        doc("did:plc:alice", "alice.test", &key),
    );
    let base = serve(world.clone()).await;
    let r = Resolver::new(ResolverConfig {
        min_refresh_interval: Duration::from_secs(60),
        ..config(&base)
    })
    .unwrap();
    let alice = did("did:plc:alice");
    r.resolve_did(&alice).await.unwrap();
    r.refresh_did(&alice).await.unwrap();
    r.refresh_did(&alice).await.unwrap();
    assert_eq!(world.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn not_registered_tombstoned_and_server_errors_are_distinct_and_errors_expire() {
    let world = Arc::new(World::default());
    let base = serve(world.clone()).await;
    let r = Resolver::new(config(&base)).unwrap();
    assert!(matches!(
        r.resolve_did(&did("did:plc:nobody")).await,
        Err(IdentityError::NotFound(_))
    ));
    assert!(matches!(
        r.resolve_did(&did("did:plc:gone")).await,
        Err(IdentityError::Tombstoned(_))
    ));
    let err = r.resolve_did(&did("did:plc:broken")).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(world.hits.load(Ordering::SeqCst), 3);
    // Errors are cached briefly...
    let _ = r.resolve_did(&did("did:plc:nobody")).await;
    assert_eq!(world.hits.load(Ordering::SeqCst), 3);
    // ...and then retried; the DID now exists.
    let key = PrivateKey::generate(Curve::K256);
    world.docs.lock().unwrap().insert(
        "did:plc:nobody".into(),
        doc("did:plc:nobody", "n.test", &key),
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(r.resolve_did(&did("did:plc:nobody")).await.is_ok());
    assert!(matches!(
        r.resolve_did(&did("did:key:zabc")).await,
        Err(IdentityError::UnsupportedMethod(_))
    ));
}

#[tokio::test]
async fn unreachable_plc_is_a_network_fault_not_an_invalid_identity() {
    // Bind and drop a listener to get a closed port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = Resolver::new(config(&format!("http://127.0.0.1:{port}"))).unwrap();
    let alice = did("did:plc:alice");
    let err = r.resolve_did(&alice).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(r.verified_handle(&alice).await.unwrap_err().is_transient());
}

#[tokio::test]
async fn did_web_on_localhost_resolves_in_dev_mode() {
    let world = Arc::new(World::default());
    let base = serve(world.clone()).await;
    let port = base.rsplit(':').next().unwrap();
    let web = format!("did:web:localhost%3A{port}");
    let key = PrivateKey::generate(Curve::P256);
    world
        .docs
        .lock()
        .unwrap()
        .insert(web.clone(), doc(&web, "web.test", &key));
    let r = Resolver::new(config(&base)).unwrap();
    assert_eq!(r.signing_key(&did(&web)).await.unwrap(), key.public_key());
}

#[tokio::test]
async fn handles_verify_both_ways_via_resolve_handle_service() {
    let world = Arc::new(World::default());
    let key = PrivateKey::generate(Curve::K256);
    {
        let mut docs = world.docs.lock().unwrap();
        docs.insert(
            "did:plc:alice".into(),
            doc("did:plc:alice", "alice.test", &key),
        );
        // Mallory claims alice's handle; the handle points at alice.
        docs.insert(
            "did:plc:mallory".into(),
            doc("did:plc:mallory", "alice.test", &key),
        );
        docs.insert(
            "did:plc:nohandle".into(),
            doc("did:plc:nohandle", "ghost.test", &key),
        );
    }
    world
        .handles
        .lock()
        .unwrap()
        .insert("alice.test".into(), "did:plc:alice".into());
    let base = serve(world.clone()).await;
    let r = Resolver::new(ResolverConfig {
        resolve_handle_service: Some(base.clone()),
        ..config(&base)
    })
    .unwrap();
    let alice_h = Handle::parse("alice.test").unwrap();
    assert_eq!(
        r.resolve_handle(&alice_h).await.unwrap(),
        did("did:plc:alice")
    );
    assert_eq!(
        r.verified_handle(&did("did:plc:alice")).await.unwrap(),
        Some(alice_h)
    );
    assert_eq!(
        r.verified_handle(&did("did:plc:mallory")).await.unwrap(),
        None
    );
    assert_eq!(
        r.verified_handle(&did("did:plc:nohandle")).await.unwrap(),
        None
    );
    assert!(matches!(
        r.resolve_handle(&Handle::parse("ghost.test").unwrap())
            .await,
        Err(IdentityError::NotFound(_))
    ));
}

#[tokio::test]
async fn handles_resolve_via_well_known_with_host_header() {
    let world = Arc::new(World::default());
    world
        .handles
        .lock()
        .unwrap()
        .insert("bob.test".into(), "did:plc:bob".into());
    let base = serve(world.clone()).await;
    let dns = serve_dns(world.clone()).await;
    let r = Resolver::new(ResolverConfig {
        handle_well_known_base: Some(base.clone()),
        dns_servers: vec![dns],
        ..config(&base)
    })
    .unwrap();
    assert_eq!(
        r.resolve_handle(&Handle::parse("bob.test").unwrap())
            .await
            .unwrap(),
        did("did:plc:bob")
    );
    assert!(matches!(
        r.resolve_handle(&Handle::parse("carol.test").unwrap())
            .await,
        Err(IdentityError::NotFound(_))
    ));
}

#[tokio::test]
async fn private_targets_are_refused_without_allow_private_network() {
    let world = Arc::new(World::default());
    world
        .handles
        .lock()
        .unwrap()
        .insert("bob.test".into(), "did:plc:bob".into());
    let base = serve(world.clone()).await;
    let port = base.rsplit(':').next().unwrap();
    let dns = serve_dns(world.clone()).await;
    let cfg = ResolverConfig {
        allow_private_network: false,
        handle_well_known_base: Some(base.clone()),
        dns_servers: vec![dns],
        ..config(&base)
    };
    let r = Resolver::new(cfg).unwrap();
    let err = r
        .resolve_did(&did(&format!("did:web:localhost%3A{port}")))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Forbidden(_)), "{err:?}");
    // .test handles are reserved outside dev mode.
    let err = r
        .resolve_handle(&Handle::parse("bob.test").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::NotFound(_)), "{err:?}");
    // A public-looking handle whose well-known base is loopback is refused by the guard.
    let err = r
        .resolve_handle(&Handle::parse("bob.example.com").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Forbidden(_)), "{err:?}");
    assert_eq!(
        world.hits.load(Ordering::SeqCst),
        0,
        "nothing reached the server"
    );
}

#[tokio::test]
async fn dns_txt_resolution_wins_and_needs_exactly_one_did() {
    let world = Arc::new(World::default());
    {
        let mut txt = world.txt.lock().unwrap();
        txt.insert(
            "_atproto.dns.test".into(),
            vec!["did=did:plc:fromdns".into()],
        );
        txt.insert(
            "_atproto.both.test".into(),
            vec!["did=did:plc:fromdns".into()],
        );
        txt.insert(
            "_atproto.two.test".into(),
            vec!["did=did:plc:one".into(), "did=did:plc:two".into()],
        );
        txt.insert("_atproto.noise.test".into(), vec!["v=spf1 -all".into()]);
    }
    {
        let mut h = world.handles.lock().unwrap();
        h.insert("both.test".into(), "did:plc:fromhttp".into());
        h.insert("http.test".into(), "did:plc:fromhttp".into());
    }
    let base = serve(world.clone()).await;
    let dns = serve_dns(world.clone()).await;
    let r = Resolver::new(ResolverConfig {
        handle_well_known_base: Some(base.clone()),
        dns_servers: vec![dns],
        ..config(&base)
    })
    .unwrap();
    let resolve = |h: &str| {
        let r = r.clone();
        let h = Handle::parse(h).unwrap();
        async move { r.resolve_handle(&h).await }
    };
    assert_eq!(resolve("dns.test").await.unwrap(), did("did:plc:fromdns"));
    assert_eq!(
        resolve("both.test").await.unwrap(),
        did("did:plc:fromdns"),
        "DNS wins on conflict"
    );
    assert_eq!(resolve("http.test").await.unwrap(), did("did:plc:fromhttp"));
    assert!(matches!(
        resolve("two.test").await,
        Err(IdentityError::InvalidHandle(_))
    ));
    assert!(matches!(
        resolve("noise.test").await,
        Err(IdentityError::NotFound(_))
    ));
    assert!(matches!(
        resolve("nothing.test").await,
        Err(IdentityError::NotFound(_))
    ));
}

#[tokio::test]
async fn dead_dns_and_missing_well_known_is_transient_not_not_found() {
    let world = Arc::new(World::default());
    let base = serve(world.clone()).await;
    let r = Resolver::new(ResolverConfig {
        handle_well_known_base: Some(base.clone()),
        ..config(&base)
    })
    .unwrap();
    let err = r
        .resolve_handle(&Handle::parse("x.test").unwrap())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn hosts_resolving_to_private_addresses_are_refused_at_connect_time() {
    let world = Arc::new(World::default());
    for name in ["pds.evil.net", "bob.evil.net"] {
        world
            .a
            .lock()
            .unwrap()
            .insert(name.into(), std::net::Ipv4Addr::LOCALHOST);
    }
    let base = serve(world.clone()).await;
    let dns = serve_dns(world.clone()).await;
    let r = Resolver::new(ResolverConfig {
        allow_private_network: false,
        dns_servers: vec![dns],
        ..config(&base)
    })
    .unwrap();
    // Without the guard these would be connection errors (nothing listens on :443): a
    // refusal proves the DNS answer was checked before connecting.
    let err = r
        .resolve_did(&did("did:web:pds.evil.net"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IdentityError::Forbidden(why) if why.contains("non-public")),
        "{err:?}"
    );
    let err = r
        .resolve_handle(&Handle::parse("bob.evil.net").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IdentityError::Forbidden(why) if why.contains("non-public")),
        "{err:?}"
    );
}
