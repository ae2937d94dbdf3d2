//! The whole pipeline against an in-test WebSocket relay on 127.0.0.1:0, writing into a
//! temp store: filter, verification of real signed Sync 1.1 commits, batches with the
//! cursor, reconnect resuming from the cursor, `#identity` → handle, `#info
//! OutdatedCursor` → backfill flag, `FutureCursor` → operator flag.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_util::sync::CancellationToken;

use super::support::*;
use crate::frame::{AccountEvent, ErrorFrame, Frame, IdentityEvent, InfoEvent};
use crate::{FirehoseConfig, LiveStatus};
use sync::{StaticAccount, StaticIdentity};
use testkit::atproto::{SynthRepo, Write, inbox_record};

const ALICE: &str = "did:plc:alice2345alice2345alice23";
const BOB: &str = "did:plc:bob2345bob2345bob2345bob23";
const INBOX_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const INBOX_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn like() -> Vec<u8> {
    repo::cbor::json_to_cbor(&serde_json::json!({
        "$type": "app.bsky.feed.like", "createdAt": "2026-07-04T12:00:00.000Z",
        "subject": {"uri": "at://did:plc:x/app.bsky.feed.post/3k", "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}
    }))
    .unwrap()
}

struct Script {
    frames: Vec<Vec<Vec<u8>>>,
}

fn script(identity: &StaticIdentity) -> Script {
    let ka = repo::PrivateKey::generate(repo::Curve::K256);
    let kb = repo::PrivateKey::generate(repo::Curve::P256);
    for (did, k, h) in [(ALICE, &ka, "alice.test"), (BOB, &kb, "bob.test")] {
        identity.insert(
            did,
            StaticAccount {
                key: k.public_key(),
                pds: "http://127.0.0.1:9".into(),
                handle: Some(h.into()),
            },
        );
    }
    let start = 1_780_000_000_000_000;
    let mut a = SynthRepo::new(ALICE, ka, start);
    let mut b = SynthRepo::new(BOB, kb, start);
    a.preload((0..50).map(|i| (format!("app.bsky.feed.like/3l{i:011}"), like())));
    let rec = |id| inbox_record(id, "AAECAwQFBgc=", "2026-07-04T12:00:00.000Z");
    let c = |f: crate::frame::Commit| Frame::Commit(f).encode();
    let conn1 = vec![
        c(b.commit(
            1,
            &[Write::Put(
                "app.bsky.feed.like/3laaaaaaaaaa2".into(),
                like(),
            )],
        )),
        c(a.commit(2, &[Write::Put("org.xmtp.inbox/self".into(), rec(INBOX_A))])),
        c(a.commit(
            3,
            &[Write::Put(
                "app.bsky.feed.like/3laaaaaaaaaa3".into(),
                like(),
            )],
        )),
    ];
    let conn2 = vec![
        Frame::Info(InfoEvent {
            name: "OutdatedCursor".into(),
            message: None,
        })
        .encode(),
        c(a.commit(5, &[Write::Put("org.xmtp.inbox/self".into(), rec(INBOX_B))])),
        Frame::Identity(IdentityEvent {
            seq: 6,
            did: ALICE.into(),
            time: "2026-07-04T12:00:01.000Z".into(),
            handle: None,
        })
        .encode(),
        Frame::Account(AccountEvent {
            seq: 7,
            did: BOB.into(),
            time: "2026-07-04T12:00:01.000Z".into(),
            active: false,
            status: Some("deactivated".into()),
        })
        .encode(),
        c(b.commit(
            8,
            &[Write::Put("org.xmtp.inbox/other".into(), rec(INBOX_A))],
        )),
        Frame::Error(ErrorFrame {
            error: "FutureCursor".into(),
            message: None,
        })
        .encode(),
    ];
    Script {
        frames: vec![conn1, conn2],
    }
}

#[allow(clippy::result_large_err)]
async fn serve(listener: TcpListener, script: Script, uris: Arc<Mutex<Vec<String>>>) {
    for frames in script.frames {
        let (tcp, _) = listener.accept().await.unwrap();
        let uris = uris.clone();
        let cb = move |req: &Request, resp: Response| {
            uris.lock().unwrap().push(req.uri().to_string());
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, cb).await.unwrap();
        for f in frames {
            ws.send(Message::Binary(f.into())).await.unwrap();
        }
        let _ = ws.close(None).await;
    }
    // Keep refusing politely afterwards: hold the listener until the test ends.
    std::future::pending::<()>().await;
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached in 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_ingests_from_a_websocket_relay_and_resumes_from_its_cursor() {
    let (_dir, store) = temp_store();
    let identity = Arc::new(StaticIdentity::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let uris = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(serve(listener, script(&identity), uris.clone()));
    let cfg = FirehoseConfig {
        relay_url: format!("ws://127.0.0.1:{port}"),
        batch_interval: Duration::from_millis(20),
        reconnect_initial: Duration::from_millis(10),
        reconnect_max: Duration::from_millis(50),
        future_cursor_retry: Duration::from_secs(30),
        ..FirehoseConfig::default()
    };
    let deps = deps(&store, identity.clone());
    let status = Arc::new(LiveStatus::new());
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(crate::run(cfg, deps, status.clone(), shutdown.clone()));

    let st = status.clone();
    wait_until(move || st.future_cursor()).await;
    let reader = store.reader();
    for _ in 0..500 {
        let l = reader.link_by_did(ALICE).await.unwrap();
        if l.as_ref().is_some_and(|l| l.handle.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    run.await.unwrap().unwrap();
    server.abort();

    let uris = uris.lock().unwrap().clone();
    assert_eq!(uris.len(), 2, "{uris:?}");
    assert!(!uris[0].contains("cursor"), "{uris:?}");
    assert!(uris[1].ends_with("cursor=3"), "{uris:?}");
    assert!(status.needs_backfill());
    let link = reader
        .link_by_did(ALICE)
        .await
        .unwrap()
        .expect("alice's link");
    assert_eq!(link.inbox_id, INBOX_B);
    assert_eq!(link.status, store::Status::Pending);
    assert_eq!(link.handle.as_deref(), Some("alice.test"));
    assert!(
        reader.link_by_did(BOB).await.unwrap().is_none(),
        "non-self rkey is ignored"
    );
    let fs = reader.firehose_state().await.unwrap();
    assert_eq!(fs.cursor, Some(8));
    assert_eq!(fs.commits_verified, 4, "{fs:?}");
    assert_eq!(fs.frames, 9, "{fs:?}");
}

/// conn 1: one frame, then `ConsumerTooSlow`; conn 2: silence (stall); conn 3: observed.
async fn serve_flaky(listener: TcpListener, uris: Arc<Mutex<Vec<String>>>) {
    let mut held = Vec::new();
    for i in 0..3 {
        let (tcp, _) = listener.accept().await.unwrap();
        let uris = uris.clone();
        #[allow(clippy::result_large_err)]
        let cb = move |req: &Request, resp: Response| {
            uris.lock().unwrap().push(req.uri().to_string());
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, cb).await.unwrap();
        if i == 0 {
            let f = Frame::Identity(IdentityEvent {
                seq: 41,
                did: BOB.into(),
                time: "2026-07-04T12:00:00Z".into(),
                handle: None,
            });
            ws.send(Message::Binary(f.encode().into())).await.unwrap();
            let e = Frame::Error(ErrorFrame {
                error: "ConsumerTooSlow".into(),
                message: None,
            });
            ws.send(Message::Binary(e.encode().into())).await.unwrap();
            let _ = ws.close(None).await;
        } else {
            held.push(ws);
        }
    }
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_too_slow_and_stalls_reconnect_from_the_cursor() {
    let (_dir, store) = temp_store();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let uris = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(serve_flaky(listener, uris.clone()));
    let cfg = FirehoseConfig {
        relay_url: format!("ws://127.0.0.1:{port}"),
        batch_interval: Duration::from_millis(20),
        read_timeout: Duration::from_millis(300),
        reconnect_initial: Duration::from_millis(10),
        reconnect_max: Duration::from_millis(50),
        ..FirehoseConfig::default()
    };
    let deps = deps(&store, Arc::new(StaticIdentity::new()));
    let status = Arc::new(LiveStatus::new());
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(crate::run(cfg, deps, status.clone(), shutdown.clone()));
    let u = uris.clone();
    wait_until(move || u.lock().unwrap().len() >= 3).await;
    shutdown.cancel();
    run.await.unwrap().unwrap();
    server.abort();
    let uris = uris.lock().unwrap().clone();
    assert!(uris[1].ends_with("cursor=41"), "{uris:?}");
    assert!(uris[2].ends_with("cursor=41"), "{uris:?}");
    assert!(status.reconnects() >= 2);
    assert_eq!(
        store.reader().firehose_state().await.unwrap().cursor,
        Some(41)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_429_is_retried_after_retry_after() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_dir, store) = temp_store();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 2048];
        let _ = tcp.read(&mut buf).await.unwrap();
        tcp.write_all(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
        )
        .await
        .unwrap();
        let first = tokio::time::Instant::now();
        drop(tcp);
        let (tcp, _) = listener.accept().await.unwrap();
        let waited = first.elapsed();
        let _ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        waited
    });
    let cfg = FirehoseConfig {
        relay_url: format!("ws://127.0.0.1:{port}"),
        reconnect_initial: Duration::from_millis(10),
        ..FirehoseConfig::default()
    };
    let deps = deps(&store, Arc::new(StaticIdentity::new()));
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(crate::run(
        cfg,
        deps,
        Arc::new(LiveStatus::new()),
        shutdown.clone(),
    ));
    let waited = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    shutdown.cancel();
    run.await.unwrap().unwrap();
    assert!(
        waited >= Duration::from_millis(900),
        "reconnected after {waited:?}, before Retry-After"
    );
}
