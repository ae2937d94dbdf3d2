//! The slow-loris client: connections from `127.0.0.50` that send a request line and then
//! one header line every few seconds, never finishing the head. The server must close each
//! one at its header-read timeout; when it does, the client opens another.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Results.
#[derive(Debug, Default)]
pub struct Loris {
    /// Connections opened.
    pub opened: AtomicU64,
    /// Connections the server closed.
    pub closed: AtomicU64,
    /// Seconds each closed connection lived.
    pub lifetimes: Mutex<Vec<f64>>,
    /// Bytes of answer received before a close (a server may send 408).
    pub answered: AtomicU64,
    /// Connections refused or failed to open.
    pub connect_errors: AtomicU64,
}

/// Starts `conns` slow-loris connections dribbling one header line every `every`.
pub fn start(
    addr: SocketAddr,
    conns: usize,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> (Arc<Loris>, Vec<tokio::task::JoinHandle<()>>) {
    let loris = Arc::new(Loris::default());
    let tasks = (0..conns)
        .map(|_| {
            let (loris, stop) = (loris.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if one(addr, every, &loris, &stop).await.is_err() {
                        loris.connect_errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            })
        })
        .collect();
    (loris, tasks)
}

async fn one(
    addr: SocketAddr,
    every: Duration,
    loris: &Loris,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::from([127, 0, 0, 50]), 0))?;
    let mut stream = socket.connect(addr).await?;
    let opened = Instant::now();
    loris.opened.fetch_add(1, Ordering::Relaxed);
    stream
        .write_all(b"GET /xrpc/_health HTTP/1.1\r\nHost: soak\r\n")
        .await?;
    let mut buf = [0u8; 1024];
    let mut n: u64 = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        tokio::select! {
            read = stream.read(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => { loris.answered.fetch_add(1, Ordering::Relaxed); }
                }
            }
            () = tokio::time::sleep(every) => {
                n += 1;
                if stream.write_all(format!("X-Dribble-{n}: {n}\r\n").as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    }
    loris.closed.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut l) = loris.lifetimes.lock() {
        l.push(opened.elapsed().as_secs_f64());
    }
    Ok(())
}
