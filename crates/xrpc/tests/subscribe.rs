//! `subscribeLinks` over a real server on loopback with a real WebSocket client: every event
//! kind live, replay across a server restart exactly once, `FutureCursor`, `OutdatedCursor`
//! after pruning, and `ConsumerTooSlow` for a consumer that stops reading while another
//! still gets everything.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use store::{Batch, Change, RecordInput, Status, Store};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use xrpc::{AppState, LinkFeed, LinkFeedConfig, ServerConfig};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server over the index at `path`, its feed woken by the writer.
struct Server {
    addr: SocketAddr,
    store: Store,
    feed: LinkFeed,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(path: &Path, config: LinkFeedConfig) -> Server {
        let store = Store::open(path).unwrap();
        let feed = LinkFeed::from_writer(store.reader(), store.writer().link_events(), config);
        let state = AppState::new(store.reader(), "test").with_link_feed(feed.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(xrpc::serve_with(
            listener,
            xrpc::router(state),
            ServerConfig::unlimited(),
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            addr,
            store,
            feed,
            shutdown,
            task,
        }
    }

    /// Stops serving and ends every subscription; the index is closed when this returns.
    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.await.unwrap().unwrap();
        self.feed.close();
    }

    async fn connect(&self, cursor: Option<i64>) -> Ws {
        let query = cursor.map(|c| format!("?cursor={c}")).unwrap_or_default();
        let url = format!(
            "ws://{}/xrpc/org.xmtp.identity.subscribeLinks{query}",
            self.addr
        );
        let (ws, response) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(response.status(), 101);
        ws
    }

    async fn apply(&self, changes: Vec<Change>) {
        self.store.writer().apply(Batch::of(changes)).await.unwrap();
    }
}

fn did(n: usize) -> syntax::Did {
    testkit::ids::did(&format!("did:plc:sub{n:08}"))
}

fn put(n: usize, cid: &str) -> Change {
    Change::PutRecord {
        did: did(n),
        rev: None,
        record: RecordInput {
            cid: testkit::ids::cid(cid),
            inbox_id: format!("{n:064x}"),
            verification_signature: "c2ln".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            malformed: None,
        },
    }
}

fn verdict(n: usize, cid: &str, status: Status) -> Change {
    Change::Verdict {
        did: did(n),
        record_cid: testkit::ids::cid(cid),
        status,
        reason: (status == Status::Invalid).then(|| "bad signature".into()),
        installation_key: (status == Status::Verified).then(|| "ab".repeat(32)),
    }
}

fn account(n: usize, active: bool) -> Change {
    Change::AccountStatus {
        did: did(n),
        active,
        status: (!active).then(|| "takendown".into()),
    }
}

/// A frame's header and body.
fn decode(bytes: &[u8]) -> (Value, Value) {
    let mut values = serde_ipld_dagcbor::de::Deserializer::from_slice(bytes).into_iter::<Value>();
    let header = values.next().unwrap().unwrap();
    let body = values.next().unwrap().unwrap();
    assert!(values.next().is_none(), "trailing data after the body");
    (header, body)
}

/// The next frame, or `None` once the server closed.
async fn next(ws: &mut Ws) -> Option<(Value, Value)> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("no frame within 20 s")
        {
            Some(Ok(Message::Binary(b))) => return Some(decode(&b)),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Reads `#link` events until one with seq `until`; returns their bodies.
async fn read_until(ws: &mut Ws, until: i64) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let (header, body) = next(ws).await.expect("closed early");
        assert_eq!(header, json!({"op": 1, "t": "#link"}), "{body}");
        let seq = body["seq"].as_i64().unwrap();
        out.push(body);
        if seq >= until {
            return out;
        }
    }
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

fn index(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("index.sqlite")
}

#[tokio::test]
async fn every_kind_of_change_arrives_live_with_the_link_view_the_queries_serve() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&index(&dir), LinkFeedConfig::default()).await;
    let mut ws = server.connect(None).await;
    // Let the subscription reach the live ring before the first change.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.apply(vec![put(1, "c1")]).await;
    server.apply(vec![verdict(1, "c1", Status::Verified)]).await;
    let verified_view = server.store.reader().link_by_did(&did(1)).await.unwrap();
    server.apply(vec![put(1, "c2")]).await;
    server.apply(vec![verdict(1, "c2", Status::Invalid)]).await;
    server.apply(vec![account(1, false)]).await;
    server.apply(vec![account(1, true)]).await;
    server
        .apply(vec![Change::DeleteRecord {
            did: did(1),
            rev: None,
        }])
        .await;
    let events = read_until(&mut ws, 7).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "verified",
            "updated",
            "invalidated",
            "hidden",
            "shown",
            "removed"
        ]
    );
    assert_eq!(seqs(&events), (1..=7).collect::<Vec<_>>());
    for e in &events {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5, "{e}");
        for k in ["seq", "time", "kind", "did", "link"] {
            assert!(e.get(k).is_some(), "{k} missing: {e}");
        }
        assert_eq!(e["did"], did(1).as_str());
    }
    assert_eq!(
        events[1]["link"],
        serde_json::to_value(verified_view.unwrap()).unwrap(),
        "the event carries the served view"
    );
    let view = events[3]["link"].as_object().unwrap();
    assert_eq!(view.len(), 9, "{view:?}");
    assert_eq!(view["status"], "invalid");
    assert_eq!(view["reason"], "bad signature");
    assert_eq!(view["installationKey"], Value::Null);
    assert_eq!(view["record"]["cid"], testkit::ids::cid("c2").as_str());
    assert_eq!(
        view["record"]["uri"],
        format!("at://{}/org.xmtp.inbox/self", did(1))
    );
    assert_eq!(events[6]["link"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn a_consumer_reconnecting_after_a_restart_gets_every_change_exactly_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = index(&dir);
    let server = Server::start(&path, LinkFeedConfig::default()).await;
    server.apply((0..200).map(|n| put(n, "a")).collect()).await;
    let mut ws = server.connect(Some(0)).await;
    let first = read_until(&mut ws, 120).await;
    assert_eq!(seqs(&first), (1..=120).collect::<Vec<_>>());
    // Kill the server with the consumer attached: it gets what was already on its way,
    // then the stream ends.
    server.stop().await;
    let mut last = 120;
    while let Some((header, body)) = next(&mut ws).await {
        assert_eq!(header["t"], "#link");
        assert_eq!(body["seq"], last + 1);
        last += 1;
    }
    let down = Store::open(&path).unwrap();
    down.writer()
        .apply(Batch::of((200..300).map(|n| put(n, "a")).collect()))
        .await
        .unwrap();
    drop(down);
    // Restarted, with changes arriving while the consumer replays (small pages, so the
    // replay and the live stream overlap).
    let config = LinkFeedConfig {
        page: 16,
        ..LinkFeedConfig::default()
    };
    let server = Server::start(&path, config).await;
    let writer = server.store.writer();
    let more = tokio::spawn(async move {
        for chunk in 0..20 {
            let changes = (0..10).map(|i| put(300 + chunk * 10 + i, "a")).collect();
            writer.apply(Batch::of(changes)).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut ws = server.connect(Some(last)).await;
    let rest = read_until(&mut ws, 500).await;
    more.await.unwrap();
    assert_eq!(seqs(&rest), (last + 1..=500).collect::<Vec<_>>());
    let dids: Vec<String> = rest
        .iter()
        .map(|e| e["did"].as_str().unwrap().to_owned())
        .collect();
    let from = usize::try_from(last).unwrap();
    assert_eq!(dids, (from..500).map(did).collect::<Vec<_>>());
    // Nothing more, and nothing repeated, once the stream is quiet.
    let extra = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(extra.is_err(), "unexpected frame {extra:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_cursor_past_the_latest_seq_is_refused_future_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&index(&dir), LinkFeedConfig::default()).await;
    server.apply(vec![put(1, "a"), put(2, "a")]).await;
    let mut ws = server.connect(Some(3)).await;
    let (header, body) = next(&mut ws).await.unwrap();
    assert_eq!(header, json!({"op": -1}));
    assert_eq!(body["error"], "FutureCursor");
    assert!(
        body["message"].as_str().unwrap().contains("latest seq 2"),
        "{body}"
    );
    assert!(next(&mut ws).await.is_none(), "closed after the error");
    // The latest seq itself is fine: nothing to replay, then live.
    let mut ws = server.connect(Some(2)).await;
    server.apply(vec![put(3, "a")]).await;
    assert_eq!(seqs(&read_until(&mut ws, 3).await), [3]);
    server.stop().await;
}

#[tokio::test]
async fn a_cursor_older_than_the_retained_window_gets_outdated_cursor_then_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&index(&dir), LinkFeedConfig::default()).await;
    server.apply((0..10).map(|n| put(n, "a")).collect()).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let pruner = tokio::spawn(store::prune_link_events(
        server.store.writer(),
        server.store.reader(),
        Duration::ZERO,
        Duration::from_secs(3600),
        async move {
            let _ = stopped.await;
        },
    ));
    // Wait for the pruner however slow the machine (it runs once at start, then every
    // minute); the test means nothing unless the window is empty now.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let window = server.store.reader().link_event_window().await.unwrap();
        if window.oldest.is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pruner never emptied the window"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(());
    pruner.await.unwrap();
    server.apply((10..13).map(|n| put(n, "a")).collect()).await;
    let mut ws = server.connect(Some(2)).await;
    let (header, body) = next(&mut ws).await.unwrap();
    assert_eq!(header, json!({"op": 1, "t": "#info"}));
    assert_eq!(body["name"], "OutdatedCursor");
    assert_eq!(seqs(&read_until(&mut ws, 13).await), [11, 12, 13]);
    // A cursor inside the window gets no info frame.
    let mut ws = server.connect(Some(11)).await;
    let (header, body) = next(&mut ws).await.unwrap();
    assert_eq!(header["t"], "#link");
    assert_eq!(body["seq"], 12);
    server.stop().await;
}

#[tokio::test]
async fn a_consumer_that_stops_reading_is_closed_too_slow_and_the_others_get_everything() {
    const TOTAL: usize = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let config = LinkFeedConfig {
        buffer: 1024,
        max_lag: 2048,
        ..LinkFeedConfig::default()
    };
    let server = Server::start(&index(&dir), config).await;
    let mut stalled = server.connect(None).await;
    let mut reader_ws = server.connect(None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The reading consumer reports its progress, and the writer waits for it to have read
    // every earlier chunk, so it is never more than one chunk (1,000) behind, well inside
    // max_lag (2,048): however slow the machine, only the stalled consumer falls behind.
    let progress = Arc::new(AtomicI64::new(0));
    let seen = progress.clone();
    let reading = tokio::spawn(async move {
        let mut out = Vec::new();
        loop {
            let (header, body) = next(&mut reader_ws).await.expect("closed early");
            assert_eq!(header, json!({"op": 1, "t": "#link"}), "{body}");
            let seq = body["seq"].as_i64().unwrap();
            seen.store(seq, Ordering::Release);
            out.push(body);
            if seq >= TOTAL as i64 {
                return out;
            }
        }
    });
    for chunk in 0..TOTAL / 1000 {
        let read_all_before = chunk as i64 * 1000;
        while progress.load(Ordering::Acquire) < read_all_before {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let changes = (0..1000).map(|i| put(chunk * 1000 + i, "a")).collect();
        server.apply(changes).await;
    }
    let all = reading.await.unwrap();
    assert_eq!(seqs(&all), (1..=TOTAL as i64).collect::<Vec<_>>());
    // The stalled consumer now reads: what its socket held, then the refusal, then close.
    let mut got = 0;
    loop {
        let (header, body) = next(&mut stalled)
            .await
            .expect("closed without an error frame");
        if header["op"] == -1 {
            assert_eq!(body["error"], "ConsumerTooSlow");
            break;
        }
        got += 1;
    }
    assert!(got < TOTAL, "the stalled consumer was never cut off");
    assert!(next(&mut stalled).await.is_none(), "closed after the error");
    server.stop().await;
}

#[tokio::test]
async fn a_read_only_replica_serves_the_outbox_by_polling_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = index(&dir);
    let writer = Store::open(&path).unwrap();
    writer
        .writer()
        .apply(Batch::of(vec![put(1, "a")]))
        .await
        .unwrap();
    // No feed given: the replica's state starts a polling feed on the first subscription.
    let reader = store::Reader::open_read_only(&path).unwrap();
    let state = AppState::new(reader, "test").with_read_only();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(xrpc::serve_with(
        listener,
        xrpc::router(state.clone()),
        ServerConfig::unlimited(),
        async move {
            let _ = rx.await;
        },
    ));
    let url = format!("ws://{addr}/xrpc/org.xmtp.identity.subscribeLinks?cursor=0");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(seqs(&read_until(&mut ws, 1).await), [1]);
    writer
        .writer()
        .apply(Batch::of(vec![
            put(2, "a"),
            verdict(2, "a", Status::Verified),
        ]))
        .await
        .unwrap();
    let events = read_until(&mut ws, 3).await;
    assert_eq!(seqs(&events), [2, 3]);
    assert_eq!(events[1]["kind"], "verified");
    let _ = shutdown.send(());
    task.await.unwrap().unwrap();
    state.close_link_feed();
    assert!(next(&mut ws).await.is_none(), "closed at shutdown");
}

#[tokio::test]
async fn one_client_cannot_take_every_subscription_slot() {
    let dir = tempfile::tempdir().unwrap();
    let config = LinkFeedConfig {
        max_per_client: 2,
        ..LinkFeedConfig::default()
    };
    let server = Server::start(&index(&dir), config).await;
    let first = server.connect(None).await;
    let _second = server.connect(None).await;
    let url = format!("ws://{}/xrpc/org.xmtp.identity.subscribeLinks", server.addr);
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"], "RateLimitExceeded");
        }
        other => panic!("a third subscription was not refused: {other:?}"),
    }
    // A slot is given back when its stream ends.
    drop(first);
    let mut admitted = false;
    for _ in 0..50 {
        if tokio_tungstenite::connect_async(url.as_str()).await.is_ok() {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "the slot of a closed stream was not given back");
    // A plain GET is not a subscription.
    let plain = plain_get(server.addr).await;
    assert!(plain.starts_with("HTTP/1.1 400"), "{plain}");
    assert!(plain.contains("InvalidRequest"), "{plain}");
    server.stop().await;
}

/// A plain HTTP GET of the subscription; the raw answer.
async fn plain_get(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET /xrpc/org.xmtp.identity.subscribeLinks HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    out
}
