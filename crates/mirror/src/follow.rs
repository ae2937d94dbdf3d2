//! The follower: `listLinks` bootstrap, then `subscribeLinks` from the saved seq; every DID
//! the upstream mentions goes into the store's resync queue together with the new seq, in one
//! transaction. The upstream's claims themselves are never written anywhere.
//!
//! - **First start** (nothing saved): connect to the stream live and, meanwhile, page
//!   `listLinks?status=all`, queueing each DID whose listed record or status differs from
//!   ours; when the pages end, the position is marked bootstrapped.
//! - **Restart**: reconnect with the saved seq; an unfinished bootstrap (or one that never
//!   saw a seq) is listed again, which queues only differences.
//! - **`OutdatedCursor`** (events were missed): list again while the stream goes on.
//!   **`ConsumerTooSlow`**: reconnect from the saved seq and list again. **`FutureCursor`**
//!   (the upstream's sequence went back): forget the seq, reconnect live and list again.
//! - **No stream** (the upstream answers 404/405/501 to the upgrade): list every
//!   [`MirrorConfig::poll_interval`].
//!
//! Network trouble is retried with [`sync::backoff::Backoff`] forever.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use store::{Batch, Change, ResyncChange, UpstreamState};
use sync::backoff::Backoff;
use syntax::Did;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::{self, Message, protocol::WebSocketConfig};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::config::MirrorConfig;
use crate::diff::{OurWalk, differs};
use crate::error::MirrorError;
use crate::listing::{ListError, fetch_page};
use crate::metrics as m;
use crate::status::MirrorStatus;
use crate::wire::{self, Event};

/// The reason written on the resync rows a hint queues.
pub const HINT_REASON: &str = "upstream";

/// What the follower talks to.
#[derive(Clone)]
pub struct MirrorDeps {
    /// The store writer (hints and the position, in one batch).
    pub writer: store::Writer,
    /// A store reader (the saved position, our copy of listed links).
    pub reader: store::Reader,
    /// Poked after hints are committed (the resync worker's wake-up).
    pub wake: Arc<Notify>,
}

impl std::fmt::Debug for MirrorDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorDeps").finish_non_exhaustive()
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

enum ConnectError {
    /// The upstream has no `subscribeLinks`.
    NotSupported(u16),
    Other(String),
}

/// Why a listing stopped.
enum ListFail {
    Upstream(String),
    Store(store::StoreError),
}

impl From<store::StoreError> for ListFail {
    fn from(e: store::StoreError) -> Self {
        ListFail::Store(e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Shutdown,
    Closed,
    Stalled,
    TooSlow,
    FutureCursor,
    ListingFailed(String),
}

impl End {
    fn label(&self) -> &'static str {
        match self {
            End::Shutdown => "shutdown",
            End::Closed => "closed",
            End::Stalled => "stalled",
            End::TooSlow => "consumer_too_slow",
            End::FutureCursor => "future_cursor",
            End::ListingFailed(_) => "listing_failed",
        }
    }
}

/// `http(s)://host` → `ws(s)://host/xrpc/org.xmtp.identity.subscribeLinks[?cursor=N]`.
pub fn subscribe_url(upstream: &str, cursor: Option<i64>) -> String {
    let base = if let Some(rest) = upstream.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = upstream.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        upstream.to_owned()
    };
    let mut url = format!(
        "{}/xrpc/org.xmtp.identity.subscribeLinks",
        base.trim_end_matches('/')
    );
    if let Some(c) = cursor {
        url.push_str(&format!("?cursor={c}"));
    }
    url
}

async fn connect(url: &str, cfg: &MirrorConfig) -> Result<Ws, ConnectError> {
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(cfg.max_frame_bytes))
        .max_frame_size(Some(cfg.max_frame_bytes));
    let fut = tokio_tungstenite::connect_async_with_config(url, Some(ws_cfg), false);
    match timeout(cfg.request_timeout, fut).await {
        Err(_) => Err(ConnectError::Other("connect timed out".into())),
        Ok(Err(tungstenite::Error::Http(resp))) => match resp.status().as_u16() {
            s @ (404 | 405 | 501) => Err(ConnectError::NotSupported(s)),
            s => Err(ConnectError::Other(format!("HTTP {s}"))),
        },
        Ok(Err(e)) => Err(ConnectError::Other(e.to_string())),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

fn desync(did: &Did) -> Change {
    Change::Resync(ResyncChange::Desync {
        did: did.clone(),
        reason: HINT_REASON.to_owned(),
        rev: None,
    })
}

/// Pages the whole listing, queueing the DIDs whose listed link differs from ours and ours
/// that it does not list.
async fn list_all(
    http: &reqwest::Client,
    cfg: &MirrorConfig,
    deps: &MirrorDeps,
    status: &MirrorStatus,
) -> Result<usize, ListFail> {
    let mut cursor: Option<String> = None;
    let (mut pages, mut queued) = (0usize, 0usize);
    let mut walk = OurWalk::new(deps.reader.clone());
    loop {
        let page = fetch_page(http, cfg, cursor.as_deref())
            .await
            .map_err(|e: ListError| ListFail::Upstream(e.to_string()))?;
        status.contact();
        pages += 1;
        if page.skipped > 0 {
            metrics::counter!(m::SKIPPED, "reason" => "listing_entry")
                .increment(page.skipped as u64);
            tracing::warn!(skipped = page.skipped, "upstream listed malformed links");
        }
        let dids: Vec<String> = page.links.iter().map(|l| l.did.to_string()).collect();
        let ours: HashMap<String, (String, String)> = deps
            .reader
            .links_by_dids(dids)
            .await?
            .into_iter()
            .map(|l| {
                let status = l.status.as_str().to_owned();
                (l.did.into_string(), (l.record.cid.into_string(), status))
            })
            .collect();
        let mut hints: Vec<Change> = page
            .links
            .iter()
            .filter(|l| differs(ours.get(l.did.as_str()), l))
            .map(|l| desync(&l.did))
            .collect();
        let was_on = walk.is_on();
        let unlisted = walk.unlisted(&page.links, page.cursor.is_none()).await?;
        if was_on && !walk.is_on() {
            metrics::counter!(m::SKIPPED, "reason" => "unordered_listing").increment(1);
        }
        hints.extend(unlisted.iter().map(desync));
        if !hints.is_empty() {
            queued += hints.len();
            metrics::counter!(m::HINTS, "source" => "listing").increment(hints.len() as u64);
            deps.writer.apply(Batch::of(hints)).await?;
            deps.wake.notify_one();
        }
        match page.cursor {
            None => return Ok(queued),
            Some(c) if cursor.as_deref() == Some(c.as_str()) => {
                return Err(ListFail::Upstream("listLinks cursor repeats".into()));
            }
            Some(_) if pages >= cfg.max_pages => {
                return Err(ListFail::Upstream(format!(
                    "listLinks has more than {} pages",
                    cfg.max_pages
                )));
            }
            Some(c) => cursor = Some(c),
        }
    }
}

/// One stream connection, with a listing running alongside when needed.
struct Session<'a> {
    cfg: &'a MirrorConfig,
    deps: &'a MirrorDeps,
    status: &'a MirrorStatus,
    pos: &'a mut UpstreamState,
    pending: Vec<Did>,
    dirty: bool,
}

impl Session<'_> {
    /// Writes the pending hints and the position in one batch, then wakes the resync worker.
    async fn flush(&mut self) -> Result<(), MirrorError> {
        if self.pending.is_empty() && !self.dirty {
            return Ok(());
        }
        let hints = self.pending.len();
        let mut changes: Vec<Change> = self.pending.drain(..).map(|d| desync(&d)).collect();
        changes.push(Change::Upstream {
            upstream: self.cfg.upstream.clone(),
            state: self.pos.clone(),
        });
        self.deps.writer.apply(Batch::of(changes)).await?;
        self.dirty = false;
        self.status.set_seq(self.pos.seq);
        if hints > 0 {
            metrics::counter!(m::HINTS, "source" => "stream").increment(hints as u64);
            self.deps.wake.notify_one();
        }
        Ok(())
    }

    /// Handles one message; `Some` ends the connection. `relist` asks for a listing.
    fn on_message(&mut self, bytes: &[u8], relist: &mut bool) -> Option<End> {
        let event = match wire::decode(bytes) {
            Ok(e) => e,
            Err(e) => {
                metrics::counter!(m::SKIPPED, "reason" => e.label()).increment(1);
                tracing::warn!(error = %e, "skipped an upstream message");
                return None;
            }
        };
        match event {
            Event::Link { seq, kind, did } => {
                tracing::debug!(seq, kind = kind.as_str(), %did, "upstream hint");
                self.pending.push(did.clone());
                if self.pos.seq.is_none_or(|s| seq > s) {
                    self.pos.seq = Some(seq);
                    self.dirty = true;
                } else {
                    metrics::counter!(m::SKIPPED, "reason" => "seq_not_increasing").increment(1);
                }
                None
            }
            Event::Info { name, message } => {
                if name == "OutdatedCursor" {
                    tracing::warn!(?message, "upstream: cursor outdated; listing again");
                    self.pos.bootstrapped = false;
                    self.dirty = true;
                    *relist = true;
                } else {
                    tracing::info!(name, ?message, "upstream info");
                }
                None
            }
            Event::Error { error, message } => {
                tracing::warn!(error, ?message, "upstream error frame");
                match error.as_str() {
                    "FutureCursor" => {
                        *self.pos = UpstreamState::default();
                        self.dirty = true;
                        Some(End::FutureCursor)
                    }
                    "ConsumerTooSlow" => {
                        self.pos.bootstrapped = false;
                        self.dirty = true;
                        Some(End::TooSlow)
                    }
                    _ => Some(End::Closed),
                }
            }
        }
    }

    /// Runs the connection until it ends; returns why, and whether it carried messages.
    async fn run(
        &mut self,
        http: &reqwest::Client,
        mut ws: Ws,
        shutdown: &CancellationToken,
    ) -> Result<(End, bool), MirrorError> {
        let (cfg, deps, status) = (self.cfg, self.deps, self.status);
        let listing_needed = !self.pos.bootstrapped || self.pos.seq.is_none();
        if listing_needed && self.pos.bootstrapped {
            self.pos.bootstrapped = false;
            self.dirty = true;
        }
        type Listing<'f> = Pin<Box<dyn Future<Output = Result<usize, ListFail>> + Send + 'f>>;
        let start_listing = || -> Listing<'_> { Box::pin(list_all(http, cfg, deps, status)) };
        let mut listing: Option<Listing<'_>> = listing_needed.then(start_listing);
        let mut ping = tokio::time::interval(cfg.ping_interval);
        ping.reset();
        let mut tick = tokio::time::interval(cfg.batch_interval);
        let mut deadline = Instant::now() + cfg.read_timeout;
        let mut healthy = false;
        let end = loop {
            let mut relist = false;
            let end = tokio::select! {
                _ = shutdown.cancelled() => Some(End::Shutdown),
                r = async { listing.as_mut().expect("guarded").await }, if listing.is_some() => {
                    listing = None;
                    match r {
                        Ok(queued) => {
                            tracing::info!(queued, "upstream listing done");
                            self.pos.bootstrapped = true;
                            self.dirty = true;
                            self.flush().await?;
                            None
                        }
                        Err(ListFail::Store(e)) => return Err(e.into()),
                        Err(ListFail::Upstream(e)) => Some(End::ListingFailed(e)),
                    }
                }
                msg = ws.next() => {
                    deadline = Instant::now() + cfg.read_timeout;
                    status.contact();
                    match msg {
                        None | Some(Ok(Message::Close(_))) => Some(End::Closed),
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "upstream stream error");
                            Some(End::Closed)
                        }
                        Some(Ok(Message::Binary(b))) => {
                            healthy = true;
                            let end = self.on_message(&b, &mut relist);
                            if self.pending.len() >= cfg.batch_max {
                                self.flush().await?;
                            }
                            end
                        }
                        Some(Ok(Message::Text(_))) => {
                            metrics::counter!(m::SKIPPED, "reason" => "text").increment(1);
                            None
                        }
                        Some(Ok(_)) => None,
                    }
                }
                _ = tick.tick() => {
                    self.flush().await?;
                    None
                }
                _ = ping.tick() => {
                    let _ = ws.send(Message::Ping(Vec::new().into())).await;
                    None
                }
                _ = tokio::time::sleep_until(deadline) => Some(End::Stalled),
            };
            if relist {
                self.flush().await?;
                if listing.is_none() {
                    listing = Some(start_listing());
                }
            }
            if let Some(end) = end {
                break end;
            }
        };
        self.flush().await?;
        if end == End::Shutdown {
            let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
        }
        Ok((end, healthy))
    }
}

/// Follows the upstream until `shutdown` fires. Returns an error only when the store fails.
pub async fn follow(
    cfg: MirrorConfig,
    deps: MirrorDeps,
    status: Arc<MirrorStatus>,
    shutdown: CancellationToken,
) -> Result<(), MirrorError> {
    let http = reqwest::Client::builder()
        .connect_timeout(cfg.request_timeout)
        .timeout(cfg.request_timeout)
        .build()
        .map_err(|e| MirrorError::Client(e.to_string()))?;
    let mut pos = deps.reader.upstream_state(&cfg.upstream).await?;
    status.set_seq(pos.seq);
    tracing::info!(upstream = cfg.upstream, seq = ?pos.seq, bootstrapped = pos.bootstrapped,
        "mirror following its upstream (hints only: every link is proven here)");
    let mut backoff = Backoff::new(cfg.reconnect_initial, cfg.reconnect_max);
    while !shutdown.is_cancelled() {
        let url = subscribe_url(&cfg.upstream, pos.seq);
        let res = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = connect(&url, &cfg) => r,
        };
        let delay = match res {
            Ok(ws) => {
                tracing::info!(url, "connected to the upstream");
                status.set_connected(true);
                let mut session = Session {
                    cfg: &cfg,
                    deps: &deps,
                    status: &status,
                    pos: &mut pos,
                    pending: Vec::new(),
                    dirty: false,
                };
                let res = session.run(&http, ws, &shutdown).await;
                status.set_connected(false);
                let (end, healthy) = res?;
                if end == End::Shutdown {
                    break;
                }
                metrics::counter!(m::RECONNECTS, "reason" => end.label()).increment(1);
                tracing::warn!(reason = ?end, "upstream connection ended; reconnecting");
                if healthy || end == End::TooSlow {
                    backoff.reset();
                }
                backoff.next_delay()
            }
            Err(ConnectError::NotSupported(code)) => {
                tracing::info!(code, "upstream has no subscribeLinks; listing it instead");
                match list_all(&http, &cfg, &deps, &status).await {
                    Ok(queued) => {
                        tracing::debug!(queued, "upstream listing done");
                        backoff.reset();
                        cfg.poll_interval
                    }
                    Err(ListFail::Store(e)) => return Err(e.into()),
                    Err(ListFail::Upstream(e)) => {
                        tracing::warn!(error = e, "upstream listing failed");
                        backoff.next_delay()
                    }
                }
            }
            Err(ConnectError::Other(e)) => {
                metrics::counter!(m::RECONNECTS, "reason" => "connect").increment(1);
                tracing::warn!(url, error = e, "upstream unreachable");
                backoff.next_delay()
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_url_follows_the_upstream_scheme_and_cursor() {
        assert_eq!(
            subscribe_url("https://a.test/", Some(5)),
            "wss://a.test/xrpc/org.xmtp.identity.subscribeLinks?cursor=5"
        );
        assert_eq!(
            subscribe_url("http://127.0.0.1:80", None),
            "ws://127.0.0.1:80/xrpc/org.xmtp.identity.subscribeLinks"
        );
    }
}
