//! The WebSocket read path through loopback: a Rust sender streams real-shaped `#commit`
//! frames (none concerns the index) over 127.0.0.1 into the firehose reader + gate, and
//! the reader thread's own CPU time is measured (`/proc/thread-self/schedstat`), so the
//! sender, on its own thread, does not count.
//!
//! Frames: the 25 `#commit`s of the indigo relay scenarios (real signed commits, CAR mean
//! 5.3 KB), re-encoded with an 8-byte `seq` patched to increase on every send. Measured,
//! interleaved, per round:
//! - `raw TCP read`: the same byte stream read into a 128 KiB buffer and dropped (the
//!   kernel's copy and the syscalls: the floor of any WebSocket library);
//! - `tungstenite read`: `tokio-tungstenite` client, every message read and dropped;
//! - `fastwebsockets read`: the `fastwebsockets` client, every message read and dropped;
//! - `gate (memory)`: `Gate::on_message` over 256 of the frames held in memory (cache
//!   resident, like a frame just read), a fresh gate per pass;
//! - `reader+gate, old loop`: the read loop as it was before issue 11 (`select!` per
//!   message, clock read and last frame kept per message), same-run baseline;
//! - `reader+gate, run_connection`: the production loop (`firehose::client`, fastwebsockets,
//!   connected by `firehose::ws::connect`);
//! - `reader+gate, tungstenite loop`: the production loop as it was before the switch
//!   (tokio-tungstenite, ready messages handled in bursts): the same-run baseline.
//!
//! `cargo bench -p firehose --bench ws_read` (env `WS_FRAMES`, `WS_ROUNDS`, `WS_READ_BUF`:
//! tungstenite's read buffer, default the client's).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{End, Pooled, env, median, on_reader_thread, relay, thread_cpu_ns};
use firehose::FirehoseConfig;
use firehose::LiveStatus;
use firehose::client::run_connection;
use firehose::gate::{Gate, Item, Outbox, Verdict};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

/// The `i`-th frame sent: the pool's frames in turn, seq patched.
fn frame_at(pool: &[Pooled], i: u64) -> Bytes {
    common::nth(&pool[(i as usize) % pool.len()], i)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Ws {
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(6 << 20))
        .max_frame_size(Some(6 << 20))
        .read_buffer_size(
            std::env::var("WS_READ_BUF")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(128 * 1024),
        );
    tokio_tungstenite::connect_async_with_config(url, Some(cfg), true)
        .await
        .unwrap()
        .0
}

/// Runs `f` on a fresh reader thread, given what `connect` made of the URL of a fresh
/// relay of `n` frames; returns (reader CPU ns per frame, frames/s wall).
fn measure_with<S, C, CFut, F, Fut>(pool: &Arc<Vec<Pooled>>, n: u64, connect: C, f: F) -> (f64, f64)
where
    C: FnOnce(String) -> CFut + Send + 'static,
    CFut: std::future::Future<Output = S>,
    F: FnOnce(S) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    let frames = pool.clone();
    let (url, h) = relay(move |i| frame_at(&frames, i), n, End::Close);
    let (got, cpu, wall) = on_reader_thread(format!("{url}/"), connect, f);
    h.join().unwrap();
    assert_eq!(got, n, "not every frame arrived");
    (cpu as f64 / n as f64, n as f64 / wall.as_secs_f64())
}

/// [`measure_with`] a tokio-tungstenite client.
fn measure<F, Fut>(pool: &Arc<Vec<Pooled>>, n: u64, f: F) -> (f64, f64)
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    measure_with(pool, n, |url| async move { connect(&url).await }, f)
}

/// How many frames an item stands for.
fn frames_of(item: &Item) -> u64 {
    match item {
        Item::Skipped { frames, .. } => *frames,
        Item::Frame { .. } => 1,
    }
}

fn consumer(mut rx: mpsc::Receiver<Item>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut frames = 0;
        while let Some(i) = rx.blocking_recv() {
            frames += frames_of(&i);
        }
        frames
    })
}

/// Like [`consumer`], for the batches `run_connection` hands across.
fn batch_consumer(mut rx: mpsc::Receiver<Vec<Item>>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut frames = 0;
        while let Some(b) = rx.blocking_recv() {
            frames += b.iter().map(frames_of).sum::<u64>();
        }
        frames
    })
}

fn new_gate() -> Gate {
    Gate::new(firehose::TrackedSet::new(), false, None)
}

/// A fastwebsockets client over an upgraded stream (closes answered, 6 MiB messages).
fn fws_client(tcp: tokio::net::TcpStream) -> fastwebsockets::WebSocket<tokio::net::TcpStream> {
    let mut ws = fastwebsockets::WebSocket::after_handshake(tcp, fastwebsockets::Role::Client);
    ws.set_auto_close(true);
    ws.set_max_message_size(6 << 20);
    ws
}

/// Hands a fastwebsockets frame to the gate, which must drop it; false on a close.
fn gate_frame(gate: &mut Gate, f: fastwebsockets::Frame<'_>) -> bool {
    use fastwebsockets::{OpCode, Payload};
    let bytes = match (f.opcode, f.payload) {
        (OpCode::Binary, Payload::Bytes(b)) => b.freeze(),
        (OpCode::Binary, p) => Bytes::copy_from_slice(&p),
        (OpCode::Close, _) => return false,
        _ => return true,
    };
    assert!(matches!(gate.on_message(bytes), Verdict::Dropped(_)));
    true
}

/// The read loop as it was before issue 11 (same-run baseline).
async fn old_loop(mut ws: Ws, gate: &mut Gate, tx: &mpsc::Sender<Item>) {
    let shutdown = CancellationToken::new();
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(20),
        Duration::from_secs(20),
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_rx = tokio::time::Instant::now();
    let mut last_frame: Option<Bytes> = None;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            msg = ws.next() => {
                last_rx = tokio::time::Instant::now();
                let bytes = match msg {
                    None | Some(Ok(Message::Close(_))) | Some(Err(_)) => break,
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(_)) => continue,
                };
                let verdict = gate.on_message(bytes.clone());
                last_frame = Some(bytes);
                match verdict {
                    Verdict::Forward(item) => {
                        if let Some(s) = gate.take_skipped() {
                            tx.send(s).await.unwrap();
                        }
                        tx.send(item).await.unwrap();
                    }
                    Verdict::Dropped(_) => {
                        if gate.pending_skipped() >= 1_000 && let Some(s) = gate.take_skipped() {
                            tx.send(s).await.unwrap();
                        }
                    }
                    _ => panic!("unexpected verdict"),
                }
            }
            _ = ping.tick() => {}
            _ = tick.tick() => {
                std::hint::black_box((last_rx, &last_frame));
                gate.counts.flush();
            }
        }
    }
    if let Some(s) = gate.take_skipped() {
        tx.send(s).await.unwrap();
    }
}

/// The tungstenite client loop as it was on main before the switch (burst of ready
/// messages, no per-message `select!`): the same-run baseline of `run_connection`.
async fn tungstenite_loop(mut ws: Ws, gate: &mut Gate, tx: &mpsc::Sender<Item>) {
    use futures_util::FutureExt;
    let shutdown = CancellationToken::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_rx = tokio::time::Instant::now();
    loop {
        let msg = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            msg = ws.next() => msg,
            _ = tick.tick() => {
                std::hint::black_box(last_rx);
                gate.counts.flush();
                continue;
            }
        };
        last_rx = tokio::time::Instant::now();
        let mut next = Some(msg);
        let mut burst = 256;
        while let Some(msg) = next.take() {
            burst -= 1;
            if burst > 0 {
                next = ws.next().now_or_never();
            }
            let bytes = match msg {
                None | Some(Ok(Message::Close(_))) | Some(Err(_)) => {
                    if let Some(s) = gate.take_skipped() {
                        tx.send(s).await.unwrap();
                    }
                    return;
                }
                Some(Ok(Message::Binary(b))) => b,
                Some(Ok(_)) => continue,
            };
            match gate.on_message(bytes) {
                Verdict::Forward(item) => {
                    if let Some(s) = gate.take_skipped() {
                        tx.send(s).await.unwrap();
                    }
                    tx.send(item).await.unwrap();
                }
                Verdict::Dropped(_) => {
                    if gate.pending_skipped() >= 1_000
                        && let Some(s) = gate.take_skipped()
                    {
                        tx.send(s).await.unwrap();
                    }
                }
                _ => panic!("unexpected verdict"),
            }
        }
    }
}

/// Upgrades a plain TCP connection by hand (fastwebsockets leaves the handshake to hyper).
async fn raw_upgrade(url: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    tcp
}

/// [`measure_with`] an upgraded raw TCP stream.
fn measure_raw<F, Fut>(pool: &Arc<Vec<Pooled>>, n: u64, f: F) -> (f64, f64)
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    measure_with(pool, n, |url| async move { raw_upgrade(&url).await }, f)
}

/// [`measure_with`] the production `firehose::ws::connect`.
fn measure_client<F, Fut>(pool: &Arc<Vec<Pooled>>, n: u64, f: F) -> (f64, f64)
where
    F: FnOnce(fastwebsockets::WebSocket<firehose::ws::Stream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    let connect = |url: String| async move {
        firehose::ws::connect(&url, 6 << 20, &Default::default())
            .await
            .unwrap()
    };
    measure_with(pool, n, connect, f)
}

fn main() {
    let n = env("WS_FRAMES", 1_000_000);
    let rounds = env("WS_ROUNDS", 3);
    let pool = Arc::new(common::indigo_commits());
    let mean = pool.iter().map(|(b, _)| b.len()).sum::<usize>() / pool.len();
    println!(
        "{} #commit frames, mean {mean} B on the wire; {n} frames per run",
        pool.len()
    );
    let mut res: [Vec<(f64, f64)>; 10] = Default::default();
    let names = [
        "raw TCP read (floor)",
        "fastwebsockets read only",
        "fastwebsockets + gate",
        "tungstenite read only",
        "gate alone (memory)",
        "reader+gate, old loop",
        "reader+gate, run_connection",
        "reader+gate, tungstenite loop",
        "fws+gate over ws::connect stream",
        "fws split read_frame + gate",
    ];
    let wire_len: u64 = (0..n)
        .map(|i| {
            let l = pool[(i as usize) % pool.len()].0.len() as u64;
            l + if l < 126 {
                2
            } else if l < 65536 {
                4
            } else {
                10
            }
        })
        .sum();
    for r in 0..rounds {
        let base = 3;
        res[0].push(measure_raw(&pool, n, move |mut tcp| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 128 * 1024];
            let mut total = 0u64;
            while total < wire_len {
                let k = tcp.read(&mut buf).await.unwrap();
                assert!(k > 0);
                total += k as u64;
            }
            n
        }));
        res[1].push(measure_raw(&pool, n, |tcp| async move {
            let mut ws = fws_client(tcp);
            let mut got = 0;
            loop {
                let f = ws.read_frame().await.unwrap();
                match f.opcode {
                    fastwebsockets::OpCode::Binary => got += 1,
                    fastwebsockets::OpCode::Close => break,
                    _ => {}
                }
            }
            got
        }));
        res[2].push(measure_raw(&pool, n, |tcp| async move {
            let mut ws = fws_client(tcp);
            let mut gate = new_gate();
            while gate_frame(&mut gate, ws.read_frame().await.unwrap()) {}
            gate.frames
        }));
        res[base].push(measure(&pool, n, |mut ws| async move {
            let mut got = 0;
            while let Some(Ok(m)) = ws.next().await {
                got += u64::from(matches!(m, Message::Binary(_)));
            }
            got
        }));
        {
            let frames: Vec<Bytes> = (0..256).map(|i| frame_at(&pool, i)).collect();
            let passes = (n / 256).max(1);
            let cpu0 = thread_cpu_ns();
            let t = Instant::now();
            for _ in 0..passes {
                let mut gate = new_gate();
                for b in &frames {
                    assert!(matches!(gate.on_message(b.clone()), Verdict::Dropped(_)));
                }
            }
            let m = (passes * 256) as f64;
            let cpu = (thread_cpu_ns() - cpu0) as f64 / m;
            res[base + 1].push((cpu, m / t.elapsed().as_secs_f64()));
        }
        res[base + 2].push(measure(&pool, n, |ws| async move {
            let (tx, rx) = mpsc::channel(512);
            let c = consumer(rx);
            let mut gate = new_gate();
            old_loop(ws, &mut gate, &tx).await;
            drop(tx);
            c.join().unwrap()
        }));
        res[base + 3].push(measure_client(&pool, n, |ws| async move {
            let (tx, rx) = mpsc::channel(8);
            let c = batch_consumer(rx);
            let mut out = Outbox::new(tx);
            let mut gate = new_gate();
            let cfg = FirehoseConfig::default();
            let status = LiveStatus::new();
            let (_why, _) = run_connection(
                &cfg,
                ws,
                &mut gate,
                &mut out,
                &status,
                &CancellationToken::new(),
            )
            .await;
            out.push_skipped(&mut gate).await.unwrap();
            out.flush().await.unwrap();
            drop(out);
            c.join().unwrap()
        }));
        res[base + 4].push(measure(&pool, n, |ws| async move {
            let (tx, rx) = mpsc::channel(512);
            let c = consumer(rx);
            let mut gate = new_gate();
            tungstenite_loop(ws, &mut gate, &tx).await;
            drop(tx);
            c.join().unwrap()
        }));
        res[base + 5].push(measure_client(&pool, n, |mut ws| async move {
            let mut gate = new_gate();
            while gate_frame(&mut gate, ws.read_frame().await.unwrap()) {}
            gate.frames
        }));
        res[base + 6].push(measure_raw(&pool, n, |tcp| async move {
            let ws = fastwebsockets::WebSocket::after_handshake(tcp, fastwebsockets::Role::Client);
            let (mut rd, wr) = ws.split(tokio::io::split);
            let wr = tokio::sync::Mutex::new(wr);
            let mut send = |f: fastwebsockets::Frame<'static>| {
                let wr = &wr;
                async move { wr.lock().await.write_frame(f).await }
            };
            let mut gate = new_gate();
            while gate_frame(&mut gate, rd.read_frame(&mut send).await.unwrap()) {}
            gate.frames
        }));
        println!("round {r}:");
        for (i, name) in names.iter().enumerate() {
            let (cpu, fps) = res[i][r as usize];
            println!(
                "  {name:<30} {:.3} µs CPU/frame, {:.0} frames/s",
                cpu / 1e3,
                fps
            );
        }
    }
    for (i, name) in names.iter().enumerate() {
        let cpu = median(res[i].iter().map(|x| x.0).collect());
        let fps = median(res[i].iter().map(|x| x.1).collect());
        println!(
            "median {name:<30} {:>6.3} µs CPU/frame {fps:>10.0} frames/s",
            cpu / 1e3
        );
    }
}
