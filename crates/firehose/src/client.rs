//! The WebSocket reader (`fastwebsockets`, chosen on figures over tungstenite: see
//! BENCHMARKS.md): connect with `?cursor=` ([`crate::ws`]), keepalive pings, read-timeout stall
//! detection, error-frame handling and reconnects with exponential backoff + jitter. Each
//! binary message goes through the [`Gate`]; forwarded items go on the bounded channel
//! (a full channel makes this task wait, nothing is dropped).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fastwebsockets::{
    Frame, OpCode, Payload, WebSocket, WebSocketError, WebSocketRead, WebSocketWrite,
};
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Mutex, mpsc};
use tokio::time::{Instant, interval, interval_at, sleep, timeout};
use tokio_util::sync::CancellationToken;

use crate::config::FirehoseConfig;
use crate::filter::peek;
use crate::gate::{Gate, Outbox, Verdict};
use crate::metrics as m;
use crate::status::LiveStatus;
use crate::ws::{ConnectError, Stream};
use sync::backoff::Backoff;

/// Dropped frames coalesced into one skip marker at most.
const SKIP_FLUSH: u64 = 1_000;

/// Messages handled back to back before the loop looks at shutdown, pings and the stall
/// timer again (it only waits in `select!` when no message is ready).
const READY_BURST: usize = 256;

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

async fn connect(url: &str, cfg: &FirehoseConfig) -> Result<WebSocket<Stream>, ConnectError> {
    match timeout(
        cfg.connect_timeout,
        crate::ws::connect(url, cfg.max_message_bytes, &cfg.tls_roots),
    )
    .await
    {
        Err(_) => Err(ConnectError::Other("connect timed out".into())),
        Ok(r) => r,
    }
}

/// Reconnects until shutdown (or until the processing stage is gone).
pub(crate) async fn reader_loop(
    cfg: FirehoseConfig,
    mut gate: Gate,
    tx: mpsc::Sender<Vec<crate::gate::Item>>,
    status: Arc<LiveStatus>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(cfg.reconnect_initial, cfg.reconnect_max);
    let mut out = Outbox::new(tx);
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
                    run_connection(&cfg, ws, &mut gate, &mut out, &status, &shutdown).await;
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
            Err(ConnectError::Tls(e)) => {
                metrics::counter!(m::RECONNECTS, "reason" => "tls").increment(1);
                let d = backoff.next_delay();
                tracing::warn!(url, error = %e, ?d, "TLS handshake with the relay failed");
                d
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
    if out.push_skipped(&mut gate).await.is_ok() {
        let _ = out.flush().await;
    }
    gate.counts.flush();
}

/// Sends the pending skip marker, if any, with what is queued. Err when the processing
/// stage is gone.
async fn send_skipped(gate: &mut Gate, out: &mut Outbox) -> Result<(), crate::gate::Closed> {
    out.push_skipped(gate).await?;
    out.flush().await
}

/// True when the first seq `first` replayed after resuming from `cursor` is more than
/// `threshold` above it (events were missed). Seqs come from the relay, so the difference
/// is computed without overflow (a relay that sent negative seqs must not panic us).
fn cursor_jumped(cursor: i64, first: i64, threshold: i64) -> bool {
    i128::from(first) - i128::from(cursor) > i128::from(threshold)
}

/// One message (or a fragment of one) as read: its opcode, `fin` bit and payload.
type Read = Result<(OpCode, bool, Bytes), WebSocketError>;

/// Reads the next frame, answering pings (and a close) through `wr`. The read half is
/// moved in and handed back, so a pending read is kept across `select!` rounds instead of
/// dropped: fastwebsockets' `read_frame` is not cancel-safe (a header consumed before its
/// payload arrived would be lost).
async fn next_frame<R, W>(
    mut rd: WebSocketRead<R>,
    wr: &Mutex<WebSocketWrite<W>>,
) -> (WebSocketRead<R>, Read)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut send = |f: Frame<'static>| async move {
        let mut w = wr.lock().await;
        w.write_frame(f).await?;
        w.flush().await
    };
    let res = rd.read_frame(&mut send).await.map(|f| {
        let payload = match f.payload {
            Payload::Bytes(b) => b.freeze(),
            other => Bytes::copy_from_slice(&other),
        };
        (f.opcode, f.fin, payload)
    });
    (rd, res)
}

/// Writes a control frame unless a pong is being written right now (then it is skipped:
/// never wait on the lock while the read future that holds it is not polled).
async fn control<W: AsyncWrite + Unpin>(
    wr: &Mutex<WebSocketWrite<W>>,
    f: Frame<'static>,
) -> Result<(), WebSocketError> {
    match wr.try_lock() {
        Ok(mut w) => {
            w.write_frame(f).await?;
            w.flush().await
        }
        Err(_) => Ok(()),
    }
}

/// Reassembles fragmented messages (relays send whole ones; this is for correctness),
/// keeping the whole message within `max` bytes.
#[derive(Default)]
struct Reassembly {
    partial: Option<BytesMut>,
}

impl Reassembly {
    /// The complete binary message, if this frame ends one; `Err` breaks the connection.
    fn push(
        &mut self,
        op: OpCode,
        fin: bool,
        payload: Bytes,
        max: usize,
    ) -> Result<Option<Bytes>, String> {
        match (op, self.partial.as_mut()) {
            (OpCode::Binary, None) if fin => Ok(Some(payload)),
            (OpCode::Binary | OpCode::Text, None) => {
                if op == OpCode::Binary {
                    self.partial = Some(BytesMut::from(&payload[..]));
                }
                Ok(None)
            }
            (OpCode::Continuation, Some(buf)) => {
                if buf.len() + payload.len() > max {
                    return Err(format!("message larger than {max} bytes"));
                }
                buf.extend_from_slice(&payload);
                Ok(fin
                    .then(|| self.partial.take().map(BytesMut::freeze))
                    .flatten())
            }
            (OpCode::Continuation, None) => Ok(None),
            (OpCode::Binary | OpCode::Text, Some(_)) => {
                Err("new message inside a fragmented one".into())
            }
            _ => Ok(None),
        }
    }
}

/// Reads one connection until it ends. Returns why, and whether it delivered any frame.
/// (Public for the read-path bench; the pipeline calls it through [`crate::run`].)
///
/// Messages that are already buffered are handled back to back (up to `READY_BURST`)
/// without a trip through `select!`, and the last frame is kept (for the status's event
/// time) once per status tick rather than every message. The items a burst forwards
/// cross the channel as one batch ([`Outbox`]); what is queued is sent before returning.
pub async fn run_connection<S>(
    cfg: &FirehoseConfig,
    ws: WebSocket<S>,
    gate: &mut Gate,
    out: &mut Outbox,
    status: &LiveStatus,
    shutdown: &CancellationToken,
) -> (Disconnect, bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let r = connection(cfg, ws, gate, out, status, shutdown).await;
    if out.flush().await.is_err() {
        return (Disconnect::ProcessorGone, r.1);
    }
    r
}

async fn connection<S>(
    cfg: &FirehoseConfig,
    mut ws: WebSocket<S>,
    gate: &mut Gate,
    out: &mut Outbox,
    status: &LiveStatus,
    shutdown: &CancellationToken,
) -> (Disconnect, bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    crate::ws::set_max_message(&mut ws, cfg.max_message_bytes);
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    let (rd, wr) = ws.split(tokio::io::split);
    let wr = Mutex::new(wr);
    let mut read = std::pin::pin!(next_frame(rd, &wr));
    // Made once: a fresh `cancelled()` per wake registers a waiter under the token's lock.
    let mut cancelled = std::pin::pin!(shutdown.cancelled());
    let mut frags = Reassembly::default();
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
        let read_out = tokio::select! {
            biased;
            _ = &mut cancelled => {
                let _ = control(&wr, Frame::close(1000, b"")).await;
                return (Disconnect::Shutdown, got_any);
            }
            r = read.as_mut() => r,
            _ = ping.tick() => {
                let f = Frame::new(true, OpCode::Ping, None, Payload::Borrowed(&[]));
                if let Err(e) = control(&wr, f).await {
                    return (Disconnect::Io(e.to_string()), got_any);
                }
                continue;
            }
            _ = tick.tick() => {
                if last_rx.elapsed() > cfg.read_timeout {
                    tracing::warn!(timeout = ?cfg.read_timeout, "relay connection stalled");
                    return (Disconnect::Stalled, got_any);
                }
                if send_skipped(gate, out).await.is_err() {
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
        let mut next = Some(read_out);
        let mut burst = READY_BURST;
        while let Some((rd, res)) = next.take() {
            read.set(next_frame(rd, &wr));
            burst -= 1;
            if burst > 0 {
                // Already buffered? (A pending read stays in `read` for the select above.)
                next = read.as_mut().now_or_never();
            }
            let bytes = match res {
                Ok((OpCode::Close, ..)) => return (Disconnect::Closed, got_any),
                Err(WebSocketError::UnexpectedEOF | WebSocketError::ConnectionClosed) => {
                    return (Disconnect::Closed, got_any);
                }
                Err(e) => return (Disconnect::Io(e.to_string()), got_any),
                Ok((op, fin, payload)) => {
                    match frags.push(op, fin, payload, cfg.max_message_bytes) {
                        Ok(Some(b)) => b,
                        Ok(None) => continue,
                        Err(e) => return (Disconnect::Io(e), got_any),
                    }
                }
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
                    if out.push_skipped(gate).await.is_err() || out.push(item).await.is_err() {
                        return (Disconnect::ProcessorGone, got_any);
                    }
                }
                Verdict::Dropped(_) => {
                    if gate.pending_skipped() >= SKIP_FLUSH && out.push_skipped(gate).await.is_err()
                    {
                        return (Disconnect::ProcessorGone, got_any);
                    }
                }
                Verdict::ServerError(e) => {
                    let _ = send_skipped(gate, out).await;
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
                    let _ = send_skipped(gate, out).await;
                    return (Disconnect::Fatal(e.to_string()), got_any);
                }
            }
        }
        // The burst is over: hand its items across in one message.
        if out.flush().await.is_err() {
            return (Disconnect::ProcessorGone, got_any);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Item;

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

    async fn pair() -> (
        WebSocket<tokio::io::DuplexStream>,
        tokio_tungstenite::WebSocketStream<tokio::io::DuplexStream>,
    ) {
        use tokio_tungstenite::tungstenite::protocol::Role;
        let (a, b) = tokio::io::duplex(1 << 16);
        let client = WebSocket::after_handshake(a, fastwebsockets::Role::Client);
        let server =
            tokio_tungstenite::WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        (client, server)
    }

    async fn read_all(
        cfg: &FirehoseConfig,
        client: WebSocket<tokio::io::DuplexStream>,
        gate: &mut Gate,
    ) -> (Disconnect, bool, LiveStatus, Vec<Item>) {
        let (tx, mut rx) = mpsc::channel(64);
        let mut out = Outbox::new(tx);
        let status = LiveStatus::new();
        let (why, got_any) = run_connection(
            cfg,
            client,
            gate,
            &mut out,
            &status,
            &CancellationToken::new(),
        )
        .await;
        out.push_skipped(gate).await.unwrap();
        out.flush().await.unwrap();
        drop(out);
        let mut items = Vec::new();
        while let Some(b) = rx.recv().await {
            items.extend(b);
        }
        (why, got_any, status, items)
    }

    fn new_gate(cursor: Option<i64>) -> Gate {
        Gate::new(crate::TrackedSet::new(), false, cursor)
    }

    fn identity(seq: i64) -> Vec<u8> {
        use crate::frame::{Frame, IdentityEvent};
        Frame::Identity(IdentityEvent {
            seq,
            did: "did:plc:bad".into(),
            time: "2026-07-04T12:00:00.000Z".into(),
            handle: None,
        })
        .encode()
    }

    /// A relay that once sent a negative seq (now our cursor) and then a huge one: the
    /// reader flags the jump instead of overflowing `first - cursor`.
    #[tokio::test]
    async fn negative_cursor_then_huge_seq_flags_backfill_without_overflow() {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        let (client, mut server) = pair().await;
        server
            .send(Message::Binary(identity(i64::MAX).into()))
            .await
            .unwrap();
        server.close(None).await.unwrap();
        let mut gate = new_gate(Some(-5));
        let (why, got_any, status, _) =
            read_all(&FirehoseConfig::default(), client, &mut gate).await;
        assert!(got_any);
        assert_eq!(why, Disconnect::Closed);
        assert_eq!(gate.last_seq(), Some(i64::MAX));
        assert!(
            status.needs_backfill(),
            "a jump from -5 to i64::MAX is a gap"
        );
    }

    /// Pings from the relay are answered, fragmented messages are reassembled, and a
    /// message over the size limit ends the connection with a reason (no panic).
    #[tokio::test]
    async fn pings_fragments_and_size_limit() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::protocol::frame::{
            Frame as TFrame,
            coding::{Data, OpCode as TOp},
        };
        let (client, mut server) = pair().await;
        let msg = identity(7);
        let (h1, h2) = msg.split_at(msg.len() / 2);
        let (h1, h2) = (h1.to_vec(), h2.to_vec());
        let relay = tokio::spawn(async move {
            server
                .send(Message::Ping(Bytes::from_static(b"hi")))
                .await
                .unwrap();
            let f1 = TFrame::message(h1, TOp::Data(Data::Binary), false);
            let f2 = TFrame::message(h2, TOp::Data(Data::Continue), true);
            server.send(Message::Frame(f1)).await.unwrap();
            server.send(Message::Frame(f2)).await.unwrap();
            server
                .send(Message::Binary(identity(8).into()))
                .await
                .unwrap();
            server
                .send(Message::Binary(vec![0u8; 2048].into()))
                .await
                .unwrap();
            let mut pong = false;
            while let Some(Ok(m)) = server.next().await {
                pong |= matches!(&m, Message::Pong(p) if &p[..] == b"hi");
            }
            pong
        });
        let cfg = FirehoseConfig {
            max_message_bytes: 1024,
            ..FirehoseConfig::default()
        };
        let mut gate = new_gate(None);
        let (why, got_any, _, items) = read_all(&cfg, client, &mut gate).await;
        assert!(got_any);
        assert!(
            matches!(&why, Disconnect::Io(e) if e.contains("large")),
            "{why:?}"
        );
        assert_eq!(gate.frames, 2, "the reassembled message and the next one");
        assert_eq!(gate.last_seq(), Some(8));
        assert_eq!(items.len(), 2, "two #identity frames forwarded");
        assert!(relay.await.unwrap(), "the ping was answered");
    }
}
