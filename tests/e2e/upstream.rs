//! Helpers of the mirror tests: a second AppView that follows an upstream (`run --upstream`),
//! and a small upstream server that speaks the contract (`listLinks`, `subscribeLinks`) and
//! says whatever the test tells it to, true or not.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use appview::cmd::run::{Running, start};
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mirror::wire::{Header, encode};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::harness::{Env, PATIENCE};

/// A mirror: a second AppView over its own index, following `upstream`.
pub struct Mirror {
    pub base: String,
    pub running: Option<Running>,
    pub shutdown: CancellationToken,
    http: reqwest::Client,
}

impl Mirror {
    pub async fn start(env: &Env, db: PathBuf, upstream: &str, grace: Duration) -> Mirror {
        let mut cfg = env.run_config(db);
        cfg.upstream = Some(upstream.to_owned());
        cfg.upstream_grace = grace;
        let shutdown = CancellationToken::new();
        let running = start(cfg, None, shutdown.clone()).await.unwrap();
        assert!(running.mirror.is_some(), "--upstream runs a mirror");
        Mirror {
            base: format!("http://{}", running.addr),
            running: Some(running),
            shutdown,
            http: reqwest::Client::new(),
        }
    }

    pub fn status(&self) -> &mirror::MirrorStatus {
        self.running.as_ref().unwrap().mirror.as_ref().unwrap()
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let running = self.running.take().unwrap();
        tokio::time::timeout(PATIENCE, running.wait(self.shutdown.clone()))
            .await
            .expect("the mirror stops within the patience")
            .unwrap();
    }

    pub async fn xrpc(&self, method: &str, query: &[(&str, &str)]) -> (u16, Value) {
        xrpc(&self.http, &self.base, method, query).await
    }

    /// The link of `actor` including unverified ones, or None.
    pub async fn link(&self, actor: &str) -> Option<Value> {
        let (status, body) = self
            .xrpc(
                "org.xmtp.identity.resolveActor",
                &[("actor", actor), ("includeUnverified", "true")],
            )
            .await;
        (status == 200).then_some(body)
    }

    pub async fn wait_status(&self, actor: &str, status: &str) -> Value {
        let mut last = None;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            last = self.link(actor).await;
            if last.as_ref().is_some_and(|l| l["status"] == status) {
                return last.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{actor} never became {status} in the mirror; last seen: {last:?}");
    }

    /// Waits until the mirror's resync queue is empty (every hint was checked).
    pub async fn wait_resyncs_done(&self) {
        super::harness::wait_until("the mirror's resync queue drains", || async {
            let (_, body) = self.xrpc("org.xmtp.identity.getStatus", &[]).await;
            body["firehose"]["resyncPending"] == 0
        })
        .await;
    }
}

pub async fn xrpc(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    query: &[(&str, &str)],
) -> (u16, Value) {
    let res = http
        .get(format!("{base}/xrpc/{method}"))
        .query(query)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Every verified DID `base` lists, sorted.
pub async fn verified_dids(base: &str) -> Vec<String> {
    let http = reqwest::Client::new();
    let (status, body) = xrpc(
        &http,
        base,
        "org.xmtp.identity.listLinks",
        &[("limit", "1000")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut dids: Vec<String> = body["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["did"].as_str().unwrap().to_owned())
        .collect();
    dids.sort();
    dids
}

/// What a [`FakeUpstream`] says, shared across its restarts.
#[derive(Default)]
pub struct Script {
    /// The `listLinks` answer (one page).
    pub links: Vec<Value>,
    /// `(seq, kind, did)` events, in seq order.
    pub events: Vec<(i64, String, String)>,
    /// The `cursor` of every `subscribeLinks` connection.
    pub cursors: Vec<Option<i64>>,
    /// How many times `listLinks` was asked.
    pub listings: usize,
    /// Sent once, to the next connection: an `#info` with this name.
    pub info_on_connect: Option<String>,
    /// Sent once, to the next connection: an error frame with this name, then close.
    pub error_on_connect: Option<String>,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    news: Arc<Notify>,
    kill: CancellationToken,
}

/// A test upstream speaking the contract; it can lie.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub script: Arc<Mutex<Script>>,
    news: Arc<Notify>,
    kill: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

/// A verified-looking link view, claimed for `did` (nothing in it is proven).
pub fn claimed_view(did: &str, inbox_id: &str, cid: &str) -> Value {
    json!({
        "did": did, "handle": null, "inboxId": inbox_id, "status": "verified", "reason": null,
        "record": {"uri": format!("at://{did}/org.xmtp.inbox/self"), "cid": cid,
                   "verificationSignature": "AAAA", "createdAt": "2026-01-01T00:00:00.000Z"},
        "installationKey": "ab".repeat(32), "verifiedAt": "2026-01-01T00:00:00.000Z",
        "indexedAt": "2026-01-01T00:00:00.000Z"
    })
}

impl FakeUpstream {
    /// Serves `script` on `addr` (port 0 picks one).
    pub async fn start(addr: SocketAddr, script: Arc<Mutex<Script>>) -> FakeUpstream {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Shared {
            script: script.clone(),
            news: Arc::new(Notify::new()),
            kill: CancellationToken::new(),
        };
        let app = Router::new()
            .route("/xrpc/org.xmtp.identity.listLinks", get(list_links))
            .route("/xrpc/org.xmtp.identity.subscribeLinks", get(subscribe))
            .with_state(shared.clone());
        let kill = shared.kill.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { kill.cancelled().await })
                .await;
        });
        FakeUpstream {
            addr,
            script,
            news: shared.news,
            kill: shared.kill,
            server,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Appends an event and tells the connected subscribers.
    pub fn push(&self, kind: &str, did: &str) -> i64 {
        let seq = {
            let mut s = self.script.lock().unwrap();
            let seq = s.events.last().map_or(1, |e| e.0 + 1);
            s.events.push((seq, kind.to_owned(), did.to_owned()));
            seq
        };
        self.news.notify_waiters();
        seq
    }

    /// Drops the listener and every connection (the upstream goes away); returns once the
    /// address is free again.
    pub async fn kill(self) {
        self.kill.cancel();
        let _ = tokio::time::timeout(PATIENCE, self.server).await;
    }
}

async fn list_links(State(s): State<Shared>) -> Response {
    let mut script = s.script.lock().unwrap();
    script.listings += 1;
    axum::Json(json!({ "links": script.links })).into_response()
}

#[derive(serde::Deserialize)]
struct SubParams {
    cursor: Option<i64>,
}

async fn subscribe(
    State(s): State<Shared>,
    Query(p): Query<SubParams>,
    ws: WebSocketUpgrade,
) -> Response {
    s.script.lock().unwrap().cursors.push(p.cursor);
    ws.on_upgrade(move |socket| stream(socket, s, p.cursor))
}

fn frame(seq: i64, kind: &str, did: &str) -> Vec<u8> {
    let header = Header {
        op: 1,
        t: Some("#link".into()),
    };
    let body = json!({"seq": seq, "time": "2026-12-06T00:00:00.000Z", "kind": kind, "did": did,
                      "link": claimed_view(did, "ab", "bafyclaimed")});
    encode(&header, &body).unwrap()
}

/// Replays events after `cursor` (none without one: live), then sends new ones as pushed.
async fn stream(mut socket: WebSocket, s: Shared, cursor: Option<i64>) {
    let (info, error) = {
        let mut script = s.script.lock().unwrap();
        (
            script.info_on_connect.take(),
            script.error_on_connect.take(),
        )
    };
    if let Some(name) = error {
        let header = Header { op: -1, t: None };
        let body = json!({"error": name, "message": "test"});
        let _ = socket
            .send(Message::Binary(encode(&header, &body).unwrap().into()))
            .await;
        let _ = socket.send(Message::Close(None)).await;
        return;
    }
    if let Some(name) = info {
        let header = Header {
            op: 1,
            t: Some("#info".into()),
        };
        let body = json!({"name": name, "message": "test"});
        if socket
            .send(Message::Binary(encode(&header, &body).unwrap().into()))
            .await
            .is_err()
        {
            return;
        }
    }
    let mut sent = match cursor {
        Some(c) => c,
        None => s.script.lock().unwrap().events.last().map_or(0, |e| e.0),
    };
    loop {
        let news = s.news.notified();
        let due: Vec<(i64, String, String)> = s
            .script
            .lock()
            .unwrap()
            .events
            .iter()
            .filter(|e| e.0 > sent)
            .cloned()
            .collect();
        for (seq, kind, did) in due {
            if socket
                .send(Message::Binary(frame(seq, &kind, &did).into()))
                .await
                .is_err()
            {
                return;
            }
            sent = seq;
        }
        tokio::select! {
            _ = s.kill.cancelled() => return,
            _ = news => {}
            msg = socket.recv() => if matches!(msg, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) { return },
        }
    }
}
