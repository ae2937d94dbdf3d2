//! The WebSocket reader: connect with `?cursor=`, keepalive pings, read-timeout stall
//! detection, error-frame handling and reconnects with exponential backoff + jitter. Each
//! binary message goes through the [`Gate`]; forwarded items go on the bounded channel
//! (a full channel makes this task wait, nothing is dropped).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::{Instant, interval, interval_at, sleep, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message, protocol::WebSocketConfig};
use tokio_util::sync::CancellationToken;

use crate::config::FirehoseConfig;
use crate::filter::peek;
use crate::gate::{Gate, Item, Verdict};
use crate::metrics as m;
use crate::status::LiveStatus;
use sync::backoff::Backoff;

/// Dropped frames coalesced into one skip marker at most.
const SKIP_FLUSH: u64 = 1_000;

/// Messages handled back to back before the loop looks at shutdown, pings and the stall
/// timer again (it only waits in `select!` when no message is ready).
const READY_BURST: usize = 256;

/// tungstenite's read buffer (its default, 128 KiB). 8, 32 and 128 KiB measured the same
/// CPU per frame (`cargo bench -p firehose --bench ws_read`, env `WS_READ_BUF`).
pub const READ_BUFFER_BYTES: usize = 128 * 1024;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// Shutdown was requested.
    Shutdown,
    /// The processing stage is gone (channel closed).
    ProcessorGone,
    /// The relay closed the connection.
    Closed,
    /// Nothing was received for `read_timeout`.
    Stalled,
    /// A transport error.
    Io(String),
    /// The relay answered `FutureCursor`.
    FutureCursor,
    /// The relay answered `ConsumerTooSlow`.
    TooSlow,
    /// Another error frame.
    ServerError(String),
    /// A frame broke the stream's framing.
    Fatal(String),
}

impl Disconnect {
    fn label(&self) -> &'static str {
        match self {
            Self::Shutdown => "shutdown",
            Self::ProcessorGone => "processor_gone",
            Self::Closed => "closed",
            Self::Stalled => "stalled",
            Self::Io(_) => "io",
            Self::FutureCursor => "future_cursor",
            Self::TooSlow => "consumer_too_slow",
            Self::ServerError(_) => "server_error",
            Self::Fatal(_) => "bad_frame",
        }
    }
}

/// Why connecting failed.
#[derive(Debug)]
enum ConnectError {
    RateLimited(Option<Duration>),
    NotImplemented,
    Other(String),
}

/// The subscribeRepos URL for a relay base URL (`wss://host`, `ws://127.0.0.1:port`, or a
/// full `/xrpc/com.atproto.sync.subscribeRepos` URL; `http(s)` is mapped to `ws(s)`).
pub fn subscribe_url(base: &str, cursor: Option<i64>) -> String {
    let base = base.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    let mut url = if base.contains("/xrpc/") {
        base
    } else {
        format!("{base}/xrpc/com.atproto.sync.subscribeRepos")
    };
    if let Some(c) = cursor {
        url.push_str(if url.contains('?') {
            "&cursor="
        } else {
            "?cursor="
        });
        url.push_str(&c.to_string());
    }
    url
}

fn parse_retry_after(v: Option<&http::HeaderValue>) -> Option<Duration> {
    let secs: u64 = v?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

async fn connect(
    url: &str,
    cfg: &FirehoseConfig,
) -> Result<WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, ConnectError>
{
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(cfg.max_message_bytes))
        .max_frame_size(Some(cfg.max_message_bytes))
        .read_buffer_size(READ_BUFFER_BYTES);
    let fut = tokio_tungstenite::connect_async_with_config(url, Some(ws_cfg), true);
    match timeout(cfg.connect_timeout, fut).await {
        Err(_) => Err(ConnectError::Other("connect timed out".into())),
        Ok(Err(tungstenite::Error::Http(resp))) => match resp.status().as_u16() {
            429 => Err(ConnectError::RateLimited(parse_retry_after(
                resp.headers().get("retry-after"),
            ))),
            501 => Err(ConnectError::NotImplemented),
            s => Err(ConnectError::Other(format!("HTTP {s}"))),
        },
        Ok(Err(e)) => Err(ConnectError::Other(e.to_string())),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

/// Reconnects until shutdown (or until the processing stage is gone).
pub(crate) async fn reader_loop(
    cfg: FirehoseConfig,
    mut gate: Gate,
    tx: mpsc::Sender<Item>,
    status: Arc<LiveStatus>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(cfg.reconnect_initial, cfg.reconnect_max);
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let url = subscribe_url(&cfg.relay_url, gate.last_seq());
        tracing::info!(url, "connecting to relay");
        let res = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = connect(&url, &cfg) => r,
        };
        let delay = match res {
            Ok(ws) => {
                status.set_connected(true);
                tracing::info!(url, "connected to relay");
                let (why, healthy) =
                    run_connection(&cfg, ws, &mut gate, &tx, &status, &shutdown).await;
                status.set_connected(false);
                if matches!(why, Disconnect::Shutdown | Disconnect::ProcessorGone) {
                    break;
                }
                metrics::counter!(m::RECONNECTS, "reason" => why.label()).increment(1);
                status.add_reconnect();
                if healthy {
                    backoff.reset();
                    if why != Disconnect::FutureCursor {
                        status.set_future_cursor(false);
                    }
                }
                match why {
                    Disconnect::FutureCursor => {
                        status.set_future_cursor(true);
                        cfg.future_cursor_retry
                    }
                    Disconnect::TooSlow => {
                        backoff.reset();
                        backoff.next_delay()
                    }
                    other => {
                        tracing::warn!(reason = ?other, "relay connection ended; reconnecting");
                        backoff.next_delay()
                    }
                }
            }
            Err(ConnectError::RateLimited(after)) => {
                metrics::counter!(m::RECONNECTS, "reason" => "rate_limited").increment(1);
                let d = after.unwrap_or_else(|| backoff.next_delay());
                tracing::warn!(?d, "relay rate-limited the connection (429)");
                d
            }
            Err(ConnectError::NotImplemented) => {
                metrics::counter!(m::RECONNECTS, "reason" => "not_implemented").increment(1);
                tracing::error!(url, "relay has no event streams (HTTP 501)");
                cfg.reconnect_max
            }
            Err(ConnectError::Other(e)) => {
                metrics::counter!(m::RECONNECTS, "reason" => "connect_failed").increment(1);
                let d = backoff.next_delay();
                tracing::warn!(url, error = e, ?d, "could not connect to relay");
                d
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = sleep(delay) => {}
        }
    }
    if let Some(s) = gate.take_skipped() {
        let _ = tx.send(s).await;
    }
    gate.counts.flush();
}

/// Sends the pending skip marker, if any. Err when the processing stage is gone.
async fn send_skipped(gate: &mut Gate, tx: &mpsc::Sender<Item>) -> Result<(), ()> {
    if let Some(s) = gate.take_skipped() {
        tx.send(s).await.map_err(|_| ())?;
    }
    Ok(())
}

/// True when the first seq `first` replayed after resuming from `cursor` is more than
/// `threshold` above it (events were missed). Seqs come from the relay, so the difference
/// is computed without overflow (a relay that sent negative seqs must not panic us).
fn cursor_jumped(cursor: i64, first: i64, threshold: i64) -> bool {
    i128::from(first) - i128::from(cursor) > i128::from(threshold)
}

/// Reads one connection until it ends. Returns why, and whether it delivered any frame.
/// (Public for the read-path bench; the pipeline calls it through [`crate::run`].)
///
/// Messages that are already buffered are handled back to back (up to `READY_BURST`)
/// without a trip through `select!`, and the last frame is kept (for the status's event
/// time) once per status tick rather than every message: holding every frame would pin a
/// chunk of tungstenite's read buffer and force it to reallocate.
pub async fn run_connection<S>(
    cfg: &FirehoseConfig,
    mut ws: WebSocketStream<S>,
    gate: &mut Gate,
    tx: &mpsc::Sender<Item>,
    status: &LiveStatus,
    shutdown: &CancellationToken,
) -> (Disconnect, bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start_cursor = gate.last_seq();
    let mut first = true;
    let mut got_any = false;
    let mut ping = interval_at(Instant::now() + cfg.ping_interval, cfg.ping_interval);
    let mut tick = interval(Duration::from_secs(1));
    let mut last_rx = Instant::now();
    let mut last_frame: Option<Bytes> = None;
    let mut want_frame = true;
    let mut reported_frames = gate.frames;
    loop {
        let msg = tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                let _ = ws.close(None).await;
                return (Disconnect::Shutdown, got_any);
            }
            msg = ws.next() => msg,
            _ = ping.tick() => {
                if let Err(e) = ws.send(Message::Ping(Bytes::new())).await {
                    return (Disconnect::Io(e.to_string()), got_any);
                }
                continue;
            }
            _ = tick.tick() => {
                if last_rx.elapsed() > cfg.read_timeout {
                    tracing::warn!(timeout = ?cfg.read_timeout, "relay connection stalled");
                    return (Disconnect::Stalled, got_any);
                }
                if send_skipped(gate, tx).await.is_err() {
                    return (Disconnect::ProcessorGone, got_any);
                }
                gate.counts.flush();
                status.add_frames(gate.frames - reported_frames);
                reported_frames = gate.frames;
                if let Some(b) = last_frame.take()
                    && let Ok(p) = peek(&b)
                    && let Some(Ok(t)) = p.time.map(|t| t.as_str())
                {
                    status.set_last_event_time(t);
                }
                want_frame = true;
                continue;
            }
        };
        last_rx = Instant::now();
        let mut next = Some(msg);
        let mut burst = READY_BURST;
        while let Some(msg) = next.take() {
            burst -= 1;
            if burst > 0 {
                // Already buffered? (A pending poll leaves the waker to the select above.)
                next = ws.next().now_or_never();
            }
            let bytes = match msg {
                None | Some(Ok(Message::Close(_))) => return (Disconnect::Closed, got_any),
                Some(Err(e)) => return (Disconnect::Io(e.to_string()), got_any),
                Some(Ok(Message::Binary(b))) => b,
                Some(Ok(_)) => continue,
            };
            got_any = true;
            if want_frame {
                want_frame = false;
                last_frame = Some(bytes.clone());
            }
            let verdict = gate.on_message(bytes);
            if first {
                first = false;
                if let (Some(c), Some(s)) = (start_cursor, gate.last_seq())
                    && cursor_jumped(c, s, cfg.cursor_jump_threshold)
                {
                    tracing::warn!(
                        cursor = c,
                        first_seq = s,
                        "first replayed seq far above our cursor: events were missed; backfill needed"
                    );
                    status.set_needs_backfill();
                }
            }
            match verdict {
                Verdict::Forward(item) => {
                    if send_skipped(gate, tx).await.is_err() || tx.send(item).await.is_err() {
                        return (Disconnect::ProcessorGone, got_any);
                    }
                }
                Verdict::Dropped(_) => {
                    if gate.pending_skipped() >= SKIP_FLUSH && send_skipped(gate, tx).await.is_err()
                    {
                        return (Disconnect::ProcessorGone, got_any);
                    }
                }
                Verdict::ServerError(e) => {
                    let _ = send_skipped(gate, tx).await;
                    return match e.error.as_str() {
                        "FutureCursor" => {
                            tracing::error!(cursor = ?start_cursor, message = ?e.message, "relay says our cursor is in the future (FutureCursor); not resetting it: operator attention needed");
                            (Disconnect::FutureCursor, got_any)
                        }
                        "ConsumerTooSlow" => {
                            tracing::warn!(message = ?e.message, "relay dropped us: ConsumerTooSlow; reconnecting from cursor");
                            (Disconnect::TooSlow, got_any)
                        }
                        other => {
                            tracing::warn!(error = other, message = ?e.message, "relay sent an error frame");
                            (Disconnect::ServerError(other.to_owned()), got_any)
                        }
                    };
                }
                Verdict::Info(i) => {
                    if i.name == "OutdatedCursor" {
                        tracing::warn!(message = ?i.message, "relay: OutdatedCursor; continuing from its oldest event, backfill needed");
                        status.set_needs_backfill();
                    } else {
                        tracing::info!(name = i.name, message = ?i.message, "relay info");
                    }
                }
                Verdict::Fatal(e) => {
                    metrics::counter!(m::FRAME_ERRORS, "reason" => e.label()).increment(1);
                    tracing::error!(error = %e, "invalid frame: dropping the connection");
                    let _ = send_skipped(gate, tx).await;
                    return (Disconnect::Fatal(e.to_string()), got_any);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_url_adds_path_and_cursor() {
        assert_eq!(
            subscribe_url("wss://relay.example/", Some(42)),
            "wss://relay.example/xrpc/com.atproto.sync.subscribeRepos?cursor=42"
        );
        assert_eq!(
            subscribe_url(
                "http://127.0.0.1:9/xrpc/com.atproto.sync.subscribeRepos",
                None
            ),
            "ws://127.0.0.1:9/xrpc/com.atproto.sync.subscribeRepos"
        );
    }

    #[test]
    fn cursor_jump_is_computed_without_overflow() {
        assert!(cursor_jumped(-5, i64::MAX, 5_000_000));
        assert!(cursor_jumped(i64::MIN, 0, 5_000_000));
        assert!(!cursor_jumped(i64::MAX - 1, i64::MAX, 5_000_000));
        assert!(!cursor_jumped(100, 100 + 5_000_000, 5_000_000));
        assert!(cursor_jumped(100, 101 + 5_000_000, 5_000_000));
    }

    /// A relay that once sent a negative seq (now our cursor) and then a huge one: the
    /// reader flags the jump instead of overflowing `first - cursor`.
    #[tokio::test]
    async fn negative_cursor_then_huge_seq_flags_backfill_without_overflow() {
        use crate::frame::{Frame, IdentityEvent};
        use tokio_tungstenite::tungstenite::protocol::Role;

        let (a, b) = tokio::io::duplex(1 << 16);
        let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let mut server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let frame = Frame::Identity(IdentityEvent {
            seq: i64::MAX,
            did: "did:plc:bad".into(),
            time: "2026-07-04T12:00:00.000Z".into(),
            handle: None,
        })
        .encode();
        server.send(Message::Binary(frame.into())).await.unwrap();
        server.close(None).await.unwrap();
        let cfg = FirehoseConfig::default();
        let tracked = Arc::new(std::sync::RwLock::new(Default::default()));
        let mut gate = Gate::new(tracked, false, Some(-5));
        let (tx, _rx) = mpsc::channel(8);
        let status = LiveStatus::new();
        let (why, got_any) = run_connection(
            &cfg,
            client,
            &mut gate,
            &tx,
            &status,
            &CancellationToken::new(),
        )
        .await;
        assert!(got_any);
        assert_eq!(why, Disconnect::Closed);
        assert_eq!(gate.last_seq(), Some(i64::MAX));
        assert!(
            status.needs_backfill(),
            "a jump from -5 to i64::MAX is a gap"
        );
    }

    #[test]
    fn retry_after_seconds_are_parsed_and_capped() {
        let v = http::HeaderValue::from_static("7");
        assert_eq!(parse_retry_after(Some(&v)), Some(Duration::from_secs(7)));
        let v = http::HeaderValue::from_static("99999");
        assert_eq!(parse_retry_after(Some(&v)), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after(None), None);
    }
}
