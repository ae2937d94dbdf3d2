//! The relay's HTTP routes: the `subscribeRepos` WebSocket (replay, then live tail) and
//! the repo directory queries.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::log::Start;
use super::{Outgoing, RelayShared, RepoListing, frames, lock};
use crate::atmosphere::http::{
    XrpcError, fault_layer, health, limit_param, not_supported, param, repo_status_json, repos_page,
};

type Params = Query<HashMap<String, String>>;

/// Frames read from the log per lock acquisition during replay.
const REPLAY_BATCH: usize = 256;

pub(super) fn router(shared: Arc<RelayShared>) -> Router {
    Router::new()
        .route("/xrpc/com.atproto.sync.subscribeRepos", get(subscribe))
        .route("/xrpc/com.atproto.sync.listRepos", get(list_repos))
        .route(
            "/xrpc/com.atproto.sync.listReposByCollection",
            get(list_repos_by_collection),
        )
        .route("/xrpc/com.atproto.sync.getRepoStatus", get(get_repo_status))
        .route(
            "/xrpc/com.atproto.sync.getLatestCommit",
            get(get_latest_commit),
        )
        .route("/xrpc/com.atproto.sync.getRepo", get(get_repo_redirect))
        .route("/xrpc/_health", get(health))
        .fallback(not_supported)
        .layer(axum::middleware::from_fn_with_state(
            shared.http_faults.clone(),
            fault_layer,
        ))
        .with_state(shared)
}

async fn subscribe(
    State(shared): State<Arc<RelayShared>>,
    Query(params): Params,
    upgrade: WebSocketUpgrade,
) -> Response {
    let cursor = match params.get("cursor").map(|raw| raw.parse::<i64>()) {
        None => None,
        Some(Ok(cursor)) => Some(cursor),
        Some(Err(_)) => return XrpcError::invalid("cursor must be an integer").into_response(),
    };
    upgrade
        .max_message_size(1 << 20)
        .on_upgrade(move |socket| async move {
            let mut session = Session::new(socket, shared);
            session.run(cursor).await;
        })
}

/// One step of the replay phase, decided under the log lock.
enum ReplayStep {
    Batch(Vec<super::log::LoggedFrame>),
    Live(tokio::sync::broadcast::Receiver<Outgoing>),
    TooSlow,
}

/// Resolves once the relay is shutting down.
async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// One subscriber connection.
struct Session {
    socket: WebSocket,
    shared: Arc<RelayShared>,
    sent: usize,
    drop_after: Option<usize>,
}

/// Why a session ends.
enum End {
    /// Close politely (after an error frame, or the client left).
    Close,
    /// Drop the TCP connection without a close frame.
    Abort,
}

impl Session {
    fn new(socket: WebSocket, shared: Arc<RelayShared>) -> Self {
        let drop_after = lock(&shared.faults).drop_after;
        Session {
            socket,
            shared,
            sent: 0,
            drop_after,
        }
    }

    async fn run(&mut self, cursor: Option<i64>) {
        let end = self.stream(cursor).await;
        if let End::Close = end {
            let _ = self.socket.send(Message::Close(None)).await;
        }
        // Dropping the socket without a close frame is the abrupt case.
    }

    async fn stream(&mut self, cursor: Option<i64>) -> End {
        let start = lock(&self.shared.log).start(cursor);
        let mut last = match start {
            Start::Future { current } => {
                let message = format!("cursor is ahead of the current sequence {current}");
                return self.error("FutureCursor", &message).await;
            }
            Start::Live => i64::MIN,
            Start::After { after, outdated } => {
                if outdated {
                    let frame = frames::info(
                        "OutdatedCursor",
                        "cursor is older than the replay window; starting from the oldest event held",
                    );
                    if let Err(end) = self.send(Bytes::from(frame)).await {
                        return end;
                    }
                }
                after
            }
        };
        // Replay from the log until caught up, then switch to the live channel under the
        // log lock so that no event falls between the two.
        let mut live = loop {
            let step = {
                let log = lock(&self.shared.log);
                if last != i64::MIN && log.evicted() > last {
                    ReplayStep::TooSlow
                } else if last == i64::MIN {
                    last = log.current();
                    ReplayStep::Live(self.shared.live.subscribe())
                } else {
                    let batch = log.after(last, REPLAY_BATCH);
                    if batch.is_empty() {
                        ReplayStep::Live(self.shared.live.subscribe())
                    } else {
                        ReplayStep::Batch(batch)
                    }
                }
            };
            match step {
                ReplayStep::TooSlow => {
                    return self
                        .error("ConsumerTooSlow", "fell out of the replay window")
                        .await;
                }
                ReplayStep::Live(live) => break live,
                ReplayStep::Batch(batch) => {
                    let Some(newest) = batch.last().map(|event| event.seq) else {
                        continue;
                    };
                    if let Err(end) = self.send_batch(batch).await {
                        return end;
                    }
                    last = newest;
                }
            }
        };
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            tokio::select! {
                received = live.recv() => match received {
                    Ok(Outgoing::Frame(event)) => {
                        if event.seq > last {
                            if let Err(end) = self.send(event.frame).await {
                                return end;
                            }
                            last = event.seq;
                        }
                    }
                    Ok(Outgoing::Garbage(bytes)) => {
                        if let Err(end) = self.send(bytes).await {
                            return end;
                        }
                    }
                    Ok(Outgoing::Disconnect) => return End::Abort,
                    Err(RecvError::Lagged(_)) => {
                        return self.error("ConsumerTooSlow", "subscriber buffer overflowed").await;
                    }
                    Err(RecvError::Closed) => return End::Close,
                },
                incoming = self.socket.recv() => match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return End::Abort,
                    Some(Ok(_)) => {} // the stream is one-way: ignore what clients send
                },
                _ = stopped(&mut shutdown) => return End::Close,
            }
        }
    }

    async fn error(&mut self, name: &str, message: &str) -> End {
        let frame = frames::error(name, message);
        let _ = self.socket.send(Message::Binary(Bytes::from(frame))).await;
        End::Close
    }

    /// Sends replayed frames with one flush per batch (replay is the bulk path), honouring
    /// stalls and the drop-after-N fault.
    async fn send_batch(&mut self, batch: Vec<super::log::LoggedFrame>) -> Result<(), End> {
        for event in batch {
            let stalled_until = lock(&self.shared.faults).stalled_until;
            if let Some(until) = stalled_until {
                tokio::time::sleep_until(until.into()).await;
            }
            if self
                .socket
                .feed(Message::Binary(event.frame))
                .await
                .is_err()
            {
                return Err(End::Abort);
            }
            self.sent += 1;
            if self.drop_after.is_some_and(|limit| self.sent >= limit) {
                let _ = self.socket.flush().await;
                return Err(End::Abort);
            }
        }
        self.socket.flush().await.map_err(|_| End::Abort)
    }

    /// Sends one frame, honouring stalls and the drop-after-N fault.
    async fn send(&mut self, frame: Bytes) -> Result<(), End> {
        let stalled_until = lock(&self.shared.faults).stalled_until;
        if let Some(until) = stalled_until {
            tokio::time::sleep_until(until.into()).await;
        }
        if self.socket.send(Message::Binary(frame)).await.is_err() {
            return Err(End::Abort);
        }
        self.sent += 1;
        if self.drop_after.is_some_and(|limit| self.sent >= limit) {
            return Err(End::Abort);
        }
        Ok(())
    }
}

async fn list_repos(
    State(shared): State<Arc<RelayShared>>,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    let limit = limit_param(&params, 1000)?;
    let (page, cursor) = lock(&shared.index).list(params.get("cursor").map(String::as_str), limit);
    let repos = page
        .into_iter()
        .map(|repo| {
            let mut value = status_json(&repo);
            value["head"] = json!(repo.head);
            value
        })
        .collect();
    Ok(repos_page(repos, cursor.as_deref()))
}

async fn list_repos_by_collection(
    State(shared): State<Arc<RelayShared>>,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    let collection = param(&params, "collection")?;
    let limit = limit_param(&params, 2000)?;
    let (dids, cursor) = lock(&shared.index).list_by_collection(
        collection,
        params.get("cursor").map(String::as_str),
        limit,
    );
    let repos = dids.into_iter().map(|did| json!({ "did": did })).collect();
    Ok(repos_page(repos, cursor.as_deref()))
}

fn status_json(repo: &RepoListing) -> serde_json::Value {
    repo_status_json(
        &repo.did,
        repo.active,
        repo.status.as_deref(),
        Some(&repo.rev),
    )
}

/// The relay's listing of the repo named by the `did` parameter.
fn known_repo(
    shared: &RelayShared,
    params: &HashMap<String, String>,
) -> Result<RepoListing, XrpcError> {
    let did = param(params, "did")?;
    lock(&shared.index)
        .repo(did)
        .ok_or_else(|| XrpcError::lexicon("RepoNotFound", format!("unknown repo {did}")))
}

async fn get_repo_status(
    State(shared): State<Arc<RelayShared>>,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    Ok(Json(status_json(&known_repo(&shared, &params)?)))
}

async fn get_latest_commit(
    State(shared): State<Arc<RelayShared>>,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    let repo = known_repo(&shared, &params)?;
    Ok(Json(json!({ "cid": repo.head, "rev": repo.rev })))
}

/// `getRepo`: Sync 1.1 relays are non-archival and redirect to the account's PDS.
async fn get_repo_redirect(
    State(shared): State<Arc<RelayShared>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, XrpcError> {
    let upstream = lock(&shared.upstream).clone().ok_or_else(|| {
        XrpcError::new(
            axum::http::StatusCode::NOT_IMPLEMENTED,
            "MethodNotImplemented",
            "this relay has no upstream PDS",
        )
    })?;
    let location = format!(
        "{upstream}/xrpc/com.atproto.sync.getRepo?{}",
        query.unwrap_or_default()
    );
    Ok((
        axum::http::StatusCode::FOUND,
        [(axum::http::header::LOCATION, location)],
    )
        .into_response())
}
