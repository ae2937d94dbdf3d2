//! `org.xmtp.identity.subscribeLinks`: the WebSocket subscription of link changes.
//!
//! A consumer with a cursor first replays the outbox from the database in pages, then
//! follows the live frames of the shared [`LinkFeed`]. It subscribes to the live ring
//! *before* reading the database, and skips live frames whose seq it already sent, so the
//! switch neither loses nor repeats an event. The upgrade answers at once: the request
//! counts once against the rate limit, and neither the request timeout nor the in-flight
//! cap applies to the open stream (the subscriber cap and the write-stall timeout do).

mod feed;
mod frame;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

pub use feed::{LinkFeed, LinkFeedConfig};
use feed::{Refused, Slot};

use crate::error::XrpcError;
use crate::params::Params;
use crate::state::AppState;

/// Why a subscription ended early.
enum End {
    /// Tell the consumer (error frame) and close.
    Refuse(&'static str, String),
    /// The socket failed or the peer left: nothing more to say.
    Gone,
    /// The outbox could not be read.
    Store(store::StoreError),
    /// The feed closed (server shutdown).
    Shutdown,
}

impl From<axum::Error> for End {
    fn from(_: axum::Error) -> End {
        End::Gone
    }
}

impl From<store::StoreError> for End {
    fn from(e: store::StoreError) -> End {
        End::Store(e)
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// `subscribeLinks`: `cursor` (integer ≥ 0, optional). Answers `InvalidRequest` to a bad
/// cursor or a request that is not a WebSocket upgrade, `Overloaded` at the subscriber cap,
/// `RateLimitExceeded` at the per-client cap.
pub(crate) async fn subscribe_links(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    extensions: axum::http::Extensions,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, XrpcError> {
    let p = Params::parse(query.as_deref())?;
    let cursor = match p.one("cursor")? {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().ok().filter(|c| *c >= 0).ok_or_else(|| {
            XrpcError::InvalidRequest(format!(
                "parameter cursor must be a non-negative integer, not {raw:?}"
            ))
        })?),
    };
    let ws = ws.map_err(|e| {
        XrpcError::InvalidRequest(format!(
            "subscribeLinks is a WebSocket subscription; connect with a WebSocket upgrade ({e})"
        ))
    })?;
    let feed = state.link_feed();
    let slot = feed
        .admit(
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        )
        .map_err(|refused| match refused {
            Refused::Full => {
                metrics::counter!("xrpc_overloaded_total").increment(1);
                XrpcError::Overloaded("too many subscribers; retry shortly".into())
            }
            Refused::Client => {
                XrpcError::RateLimitExceeded("too many subscriptions open from this client".into())
            }
        })?;
    Ok(ws.on_upgrade(move |socket| consume(socket, feed, cursor, slot)))
}

/// Serves one consumer until it leaves, falls behind, or the feed closes.
async fn consume(socket: WebSocket, feed: LinkFeed, cursor: Option<i64>, _slot: Slot) {
    metrics::gauge!("xrpc_subscribers").increment(1.0);
    let (mut sink, mut stream) = socket.split();
    let mut closing = feed.closing();
    let end = tokio::select! {
        end = pump(&mut sink, &feed, cursor) => end,
        // Incoming messages are read (so pings are answered) and dropped; a close or a
        // broken socket ends the subscription.
        () = async { while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) { break; }
        } } => End::Gone,
        _ = closing.wait_for(|closed| *closed) => End::Shutdown,
    };
    match end {
        End::Shutdown => {
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::AWAY,
                    reason: "server shutting down".into(),
                })))
                .await;
        }
        End::Refuse(error, message) => {
            if error == "ConsumerTooSlow" {
                metrics::counter!("xrpc_subscribe_too_slow_total").increment(1);
            }
            let _ = sink
                .send(Message::Binary(frame::error(error, &message)))
                .await;
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::POLICY,
                    reason: error.into(),
                })))
                .await;
        }
        End::Store(e) => {
            tracing::error!(error = %e, "subscribeLinks: reading the outbox failed");
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::ERROR,
                    reason: "internal error".into(),
                })))
                .await;
        }
        End::Gone => {}
    }
    metrics::gauge!("xrpc_subscribers").decrement(1.0);
}

/// Sends the replay (with a cursor) then the live frames; returns only to end the stream.
async fn pump(sink: &mut Sink, feed: &LinkFeed, cursor: Option<i64>) -> End {
    match pump_inner(sink, feed, cursor).await {
        Ok(never) => match never {},
        Err(end) => end,
    }
}

async fn pump_inner(
    sink: &mut Sink,
    feed: &LinkFeed,
    cursor: Option<i64>,
) -> Result<std::convert::Infallible, End> {
    // No cursor: live frames only, after the newest one broadcast so far (read before
    // subscribing, so nothing after it is missed should the consumer need to catch up).
    let mut last = feed.published();
    let mut live = feed.subscribe();
    if let Some(cursor) = cursor {
        let window = feed.reader().link_event_window().await?;
        if cursor > window.latest {
            return Err(End::Refuse(
                "FutureCursor",
                format!("cursor {cursor} is past the latest seq {}", window.latest),
            ));
        }
        let oldest = window.oldest.unwrap_or(window.latest + 1);
        let mut from = cursor;
        if cursor + 1 < oldest {
            let message = format!(
                "cursor {cursor} is older than the retained window; replaying from seq {oldest}"
            );
            sink.feed(Message::Binary(frame::info("OutdatedCursor", &message)))
                .await?;
            // As the message says: the feed's kept frames may still hold pruned events.
            from = oldest - 1;
        }
        last = replay(sink, feed, from).await?;
    }
    loop {
        let next = match live.try_recv() {
            Ok(frame) => Ok(frame),
            Err(TryRecvError::Empty) => {
                sink.flush().await?;
                live.recv().await
            }
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
        match next {
            Ok(frame) if frame.seq > last => {
                last = frame.seq;
                sink.feed(Message::Binary(frame.bytes)).await?;
            }
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                if let Some(behind) = feed.too_far_behind(last) {
                    return Err(End::Refuse(
                        "ConsumerTooSlow",
                        format!(
                            "{behind} events behind the newest ({n} dropped from the live \
                             buffer); reconnect with the last seq received"
                        ),
                    ));
                }
                // A burst overran the ring but the consumer is close: catch up from the
                // database (subscribing first, as at the start).
                live = feed.subscribe();
                last = replay(sink, feed, last).await?;
            }
            Err(RecvError::Closed) => return Err(End::Gone),
        }
    }
}

/// Sends every retained event after `after`, from the feed's kept frames while they reach
/// back that far, else from the database; returns the last seq sent.
async fn replay(sink: &mut Sink, feed: &LinkFeed, mut after: i64) -> Result<i64, End> {
    let page = feed.page();
    loop {
        if let Some(frames) = feed.recent_after(after, page) {
            for frame in frames {
                after = frame.seq;
                sink.feed(Message::Binary(frame.bytes)).await?;
            }
            sink.flush().await?;
            continue;
        }
        let events = feed.reader().link_events_after(after, page).await?;
        for event in &events {
            sink.feed(Message::Binary(frame::link(event))).await?;
            after = event.seq;
        }
        sink.flush().await?;
        if events.len() < page {
            return Ok(after);
        }
    }
}
