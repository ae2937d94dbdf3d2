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

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use firehose::FirehoseConfig;
use firehose::LiveStatus;
use firehose::client::run_connection;
use firehose::gate::{Gate, Item, Outbox, Verdict};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

const SEQ_BASE: u64 = 31_500_000_000;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Frames with the offset of their 8-byte seq.
fn frames() -> Vec<(Vec<u8>, usize)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/peers/indigo/cmd/relay/testing/testdata"
    );
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("testdata/ vectors missing")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        for m in v["messages"].as_array().unwrap() {
            let f = &m["frame"];
            if f["header"]["t"] != "#commit" {
                continue;
            }
            let mut body = f["body"].clone();
            body["seq"] = serde_json::json!(SEQ_BASE);
            let mut b = repo::cbor::json_to_cbor(&f["header"]).unwrap();
            b.extend(repo::cbor::json_to_cbor(&body).unwrap());
            let pat = b"\x63seq\x1b";
            let at = b.windows(pat.len()).position(|w| w == pat).unwrap() + pat.len();
            out.push((b, at));
        }
    }
    out
}

fn frame_at(pool: &[(Vec<u8>, usize)], i: u64) -> Bytes {
    let (b, at) = &pool[(i as usize) % pool.len()];
    let mut v = b.clone();
    v[*at..*at + 8].copy_from_slice(&(SEQ_BASE + 1 + i).to_be_bytes());
    Bytes::from(v)
}

/// Serves one connection on a fresh port from its own thread; returns the ws:// URL.
fn sender(pool: Arc<Vec<(Vec<u8>, usize)>>, n: u64) -> (String, std::thread::JoinHandle<()>) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", std_listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            std_listener.set_nonblocking(true).unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            for i in 0..n {
                ws.feed(Message::Binary(frame_at(&pool, i))).await.unwrap();
                if i % 32 == 31 {
                    ws.flush().await.unwrap();
                }
            }
            ws.close(None).await.unwrap();
            // Let the reader see the close before the socket goes.
            while let Some(Ok(_)) = ws.next().await {}
        });
    });
    (url, h)
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

/// Runs `f` on a fresh reader thread against a fresh sender of `n` frames; returns
/// (reader CPU ns per frame, frames/s wall).
fn measure<F, Fut>(pool: &Arc<Vec<(Vec<u8>, usize)>>, n: u64, f: F) -> (f64, f64)
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    let (url, h) = sender(pool.clone(), n);
    let r = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let ws = connect(&url).await;
            let cpu0 = thread_cpu_ns();
            let t = Instant::now();
            let got = f(ws).await;
            let cpu = thread_cpu_ns() - cpu0;
            assert_eq!(got, n, "not every frame arrived");
            (cpu as f64 / n as f64, n as f64 / t.elapsed().as_secs_f64())
        })
    })
    .join()
    .unwrap();
    h.join().unwrap();
    r
}

fn consumer(mut rx: mpsc::Receiver<Item>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut frames = 0;
        while let Some(i) = rx.blocking_recv() {
            frames += match i {
                Item::Skipped { frames, .. } => frames,
                Item::Frame { .. } => 1,
            };
        }
        frames
    })
}

/// Like [`consumer`], for the batches `run_connection` hands across.
fn batch_consumer(mut rx: mpsc::Receiver<Vec<Item>>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut frames = 0;
        while let Some(b) = rx.blocking_recv() {
            for i in b {
                frames += match i {
                    Item::Skipped { frames, .. } => frames,
                    Item::Frame { .. } => 1,
                };
            }
        }
        frames
    })
}

fn new_gate() -> Gate {
    Gate::new(firehose::TrackedSet::new(), false, None)
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

/// Like [`measure`], with the reader given an upgraded raw TCP stream.
fn measure_raw<F, Fut>(pool: &Arc<Vec<(Vec<u8>, usize)>>, n: u64, f: F) -> (f64, f64)
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    let (url, h) = sender(pool.clone(), n);
    let r = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let tcp = raw_upgrade(&url).await;
            let cpu0 = thread_cpu_ns();
            let t = Instant::now();
            let got = f(tcp).await;
            let cpu = thread_cpu_ns() - cpu0;
            assert_eq!(got, n, "not every frame arrived");
            (cpu as f64 / n as f64, n as f64 / t.elapsed().as_secs_f64())
        })
    })
    .join()
    .unwrap();
    h.join().unwrap();
    r
}

/// Like [`measure`], with the reader connected by the production `firehose::ws::connect`.
fn measure_client<F, Fut>(pool: &Arc<Vec<(Vec<u8>, usize)>>, n: u64, f: F) -> (f64, f64)
where
    F: FnOnce(fastwebsockets::WebSocket<firehose::ws::Stream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    let (url, h) = sender(pool.clone(), n);
    let r = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let ws = firehose::ws::connect(&url, 6 << 20).await.unwrap();
            let cpu0 = thread_cpu_ns();
            let t = Instant::now();
            let got = f(ws).await;
            let cpu = thread_cpu_ns() - cpu0;
            assert_eq!(got, n, "not every frame arrived");
            (cpu as f64 / n as f64, n as f64 / t.elapsed().as_secs_f64())
        })
    })
    .join()
    .unwrap();
    h.join().unwrap();
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = env("WS_FRAMES", 1_000_000);
    let rounds = env("WS_ROUNDS", 3);
    let pool = Arc::new(frames());
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
            let mut ws =
                fastwebsockets::WebSocket::after_handshake(tcp, fastwebsockets::Role::Client);
            ws.set_auto_close(true);
            ws.set_max_message_size(6 << 20);
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
            let mut ws =
                fastwebsockets::WebSocket::after_handshake(tcp, fastwebsockets::Role::Client);
            ws.set_auto_close(true);
            ws.set_max_message_size(6 << 20);
            let mut gate = new_gate();
            loop {
                let f = ws.read_frame().await.unwrap();
                match (f.opcode, f.payload) {
                    (fastwebsockets::OpCode::Binary, fastwebsockets::Payload::Bytes(b)) => {
                        assert!(matches!(gate.on_message(b.freeze()), Verdict::Dropped(_)));
                    }
                    (fastwebsockets::OpCode::Binary, p) => {
                        let b = Bytes::copy_from_slice(&p);
                        assert!(matches!(gate.on_message(b), Verdict::Dropped(_)));
                    }
                    (fastwebsockets::OpCode::Close, _) => break,
                    _ => {}
                }
            }
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
            loop {
                let f = ws.read_frame().await.unwrap();
                match (f.opcode, f.payload) {
                    (fastwebsockets::OpCode::Binary, fastwebsockets::Payload::Bytes(b)) => {
                        assert!(matches!(gate.on_message(b.freeze()), Verdict::Dropped(_)));
                    }
                    (fastwebsockets::OpCode::Close, _) => break,
                    _ => {}
                }
            }
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
            loop {
                let f = rd.read_frame(&mut send).await.unwrap();
                match (f.opcode, f.payload) {
                    (fastwebsockets::OpCode::Binary, fastwebsockets::Payload::Bytes(b)) => {
                        assert!(matches!(gate.on_message(b.freeze()), Verdict::Dropped(_)));
                    }
                    (fastwebsockets::OpCode::Close, _) => break,
                    _ => {}
                }
            }
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
