//! What the firehose benches share: CPU clocks, the indigo relay scenarios' `#commit`
//! frames with their `seq` patched per send, a loopback relay that streams frames over
//! one WebSocket from its own thread, signed repos whose keys the identity source knows,
//! and the median. Each bench uses a part of it.

#![allow(dead_code)]

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::sync::Arc;

use firehose::FirehoseDeps;
use sync::{StaticAccount, StaticIdentity};
use testkit::atproto::SynthRepo;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// The `seq` of the pooled frames as encoded (an 8-byte CBOR uint, so patching keeps the
/// length); the frame sent `i`-th gets `SEQ_BASE + 1 + i`.
pub const SEQ_BASE: u64 = 31_500_000_000;

/// CPU time of the calling thread, in ns (`/proc/thread-self/schedstat`).
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of the whole process, in ns (clock ticks of 10 ms).
pub fn process_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks * 10_000_000
}

/// A frame with the offset of its 8-byte seq.
pub type Pooled = (Vec<u8>, usize);

/// The offset of the 8-byte `seq` value in an encoded frame.
pub fn seq_offset(b: &[u8]) -> usize {
    let pat = b"\x63seq\x1b";
    b.windows(pat.len()).position(|w| w == pat).unwrap() + pat.len()
}

/// The `#commit` frames of the indigo relay scenarios (`testdata/peers/...`), re-encoded
/// with `seq = SEQ_BASE`.
pub fn indigo_commits() -> Vec<Pooled> {
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
            let at = seq_offset(&b);
            out.push((b, at));
        }
    }
    out
}

/// `frame` as the `i`-th sent: its seq patched to `SEQ_BASE + 1 + i`.
pub fn nth((b, at): &Pooled, i: u64) -> Bytes {
    let mut v = b.clone();
    v[*at..*at + 8].copy_from_slice(&(SEQ_BASE + 1 + i).to_be_bytes());
    Bytes::from(v)
}

/// A current-thread runtime with IO and time.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// How the relay ends its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A close frame after the last frame (a reader counts to the end).
    Close,
    /// The connection is held until the client leaves (a close would reconnect a
    /// consumer that runs until told to stop).
    Hold,
}

/// A relay on a fresh loopback port, from its own thread: accepts one WebSocket and sends
/// `frame(i)` for `i` in `0..n`, flushing every 32. Returns `ws://<addr>` and a handle
/// yielding the sender thread's CPU ns from the upgrade on.
pub fn relay(
    frame: impl Fn(u64) -> Bytes + Send + 'static,
    n: u64,
    end: End,
) -> (String, std::thread::JoinHandle<u64>) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", std_listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        runtime().block_on(async move {
            std_listener.set_nonblocking(true).unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let cpu0 = thread_cpu_ns();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            for i in 0..n {
                ws.feed(Message::Binary(frame(i))).await.unwrap();
                if i % 32 == 31 {
                    ws.flush().await.unwrap();
                }
            }
            match end {
                End::Close => ws.close(None).await.unwrap(),
                End::Hold => ws.flush().await.unwrap(),
            }
            // Let the reader see the end before the socket goes.
            while let Some(Ok(_)) = ws.next().await {}
            thread_cpu_ns() - cpu0
        })
    });
    (url, h)
}

/// Runs `read` on a fresh current-thread runtime on its own thread, given what `connect`
/// made of `url`; returns `read`'s result and the reader thread's CPU ns and wall time
/// spent in it (the connection excluded).
pub fn on_reader_thread<S, C, CFut, F, Fut, T>(
    url: String,
    connect: C,
    read: F,
) -> (T, u64, std::time::Duration)
where
    C: FnOnce(String) -> CFut + Send + 'static,
    CFut: Future<Output = S>,
    F: FnOnce(S) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let stream = connect(url).await;
            let cpu0 = thread_cpu_ns();
            let t = std::time::Instant::now();
            let out = read(stream).await;
            (out, thread_cpu_ns() - cpu0, t.elapsed())
        })
    })
    .join()
    .unwrap()
}

/// An empty synthetic repo of `did` with a fresh K-256 key, which `identity` now knows;
/// and that key's public half.
pub fn known_repo(
    identity: &StaticIdentity,
    did: &str,
    start_micros: u64,
) -> (SynthRepo, repo::PublicKey) {
    let key = repo::PrivateKey::generate(repo::Curve::K256);
    let public = key.public_key();
    identity.insert(
        did.to_owned(),
        StaticAccount {
            key: key.public_key(),
            pds: "http://127.0.0.1:9".into(),
            handle: None,
        },
    );
    (SynthRepo::new(did, key, start_micros), public)
}

/// The store's writer and reader, `identity`, and a record fetcher that may reach
/// loopback (no PDS answers in a bench).
pub fn deps(store: &store::Store, identity: &Arc<StaticIdentity>) -> FirehoseDeps {
    FirehoseDeps {
        writer: store.writer(),
        reader: store.reader(),
        identity: identity.clone(),
        fetcher: Arc::new(
            sync::HttpRecordFetcher::new("bench")
                .unwrap()
                .allow_private_network(true),
        ),
    }
}

/// The environment variable `name` as a number, `default` when unset or not one.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median (upper for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
