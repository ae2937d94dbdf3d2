//! The query load: polite clients (each from its own loopback address, under the per-IP
//! rate limit) spread over the read methods, and a flood client far over the limit.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;

/// What the polite clients ask about: verified links known before the load began.
#[derive(Debug, Clone)]
pub struct Target {
    pub did: String,
    pub handle: String,
    pub inbox: String,
}

/// Polite results.
#[derive(Debug, Default)]
pub struct Polite {
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    /// The first few errors, to say what went wrong.
    pub first_errors: Mutex<Vec<String>>,
    /// Latencies in microseconds.
    pub latencies: Mutex<Vec<u32>>,
    /// Per method: (name, ok).
    pub per_method: [AtomicU64; 5],
}

/// The methods the polite clients call, in the order of [`Polite::per_method`].
pub const METHODS: [&str; 5] = [
    "resolveActor",
    "resolveActors",
    "resolveInbox",
    "listLinks",
    "getStatus",
];

/// Flood results.
#[derive(Debug, Default)]
pub struct Flood {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub limited: AtomicU64,
    /// 429s that lacked the XRPC error name or the `RateLimit-*` headers.
    pub limited_malformed: AtomicU64,
    /// Connections refused at accept by the per-address connection cap (429
    /// `RateLimitExceeded`, "too many open connections from this address", then closed).
    pub conn_refused: AtomicU64,
    /// Requests that got no answer at all (the connection was closed or reset: a refused
    /// connection whose answer the client did not read, or the client's own timeout).
    pub no_answer: AtomicU64,
    pub other: AtomicU64,
    pub first_other: Mutex<Vec<String>>,
}

fn client(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(16)
        .build()
        .unwrap_or_default()
}

fn url(base: &str, n: u64, targets: &[Target]) -> (usize, String) {
    let pick = |k: u64| {
        &targets[((n.wrapping_mul(2_654_435_761) >> 7).wrapping_add(k) as usize) % targets.len()]
    };
    let x = "org.xmtp.identity.";
    match n % 10 {
        0..=2 => (
            0,
            format!("{base}/xrpc/{x}resolveActor?actor={}", pick(0).did),
        ),
        3 => (
            0,
            format!("{base}/xrpc/{x}resolveActor?actor={}", pick(0).handle),
        ),
        4 | 5 => {
            let actors: Vec<String> = (0..10).map(|k| format!("actors={}", pick(k).did)).collect();
            (
                1,
                format!("{base}/xrpc/{x}resolveActors?{}", actors.join("&")),
            )
        }
        6 | 7 => (
            2,
            format!("{base}/xrpc/{x}resolveInbox?inboxId={}", pick(0).inbox),
        ),
        8 => (3, format!("{base}/xrpc/{x}listLinks?limit=50")),
        _ => (4, format!("{base}/xrpc/{x}getStatus")),
    }
}

/// Starts `clients` polite clients, each sending `per_client` requests/s from its own
/// address `127.0.0.(10 + i)`, until `stop`.
pub fn start_polite(
    addr: SocketAddr,
    clients: usize,
    per_client: u32,
    targets: Arc<Vec<Target>>,
    stop: Arc<AtomicBool>,
) -> (Arc<Polite>, Vec<tokio::task::JoinHandle<()>>) {
    let polite = Arc::new(Polite::default());
    let base = format!("http://{addr}");
    let tasks = (0..clients)
        .map(|i| {
            let ip = IpAddr::from([127, 0, 0, 10 + i as u8]);
            let (http, base, targets, stop, polite) = (
                client(ip),
                base.clone(),
                targets.clone(),
                stop.clone(),
                polite.clone(),
            );
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1) / per_client.max(1));
                tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
                let mut n = i as u64 * 7_919;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    n += 1;
                    let (method, url) = url(&base, n, &targets);
                    let (http, polite) = (http.clone(), polite.clone());
                    tokio::spawn(async move { polite_one(&http, &url, method, &polite).await });
                }
            })
        })
        .collect();
    (polite, tasks)
}

async fn polite_one(http: &reqwest::Client, url: &str, method: usize, polite: &Polite) {
    let started = Instant::now();
    let outcome = match http.get(url).send().await {
        Ok(res) if res.status() == 200 => match res.bytes().await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{}: body: {e}", METHODS[method])),
        },
        Ok(res) => {
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            Err(format!("{}: {status} {body:.200}", METHODS[method]))
        }
        Err(e) => Err(format!("{}: {e}", METHODS[method])),
    };
    let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    match outcome {
        Ok(()) => {
            polite.ok.fetch_add(1, Ordering::Relaxed);
            polite.per_method[method].fetch_add(1, Ordering::Relaxed);
            if let Ok(mut l) = polite.latencies.lock() {
                l.push(micros);
            }
        }
        Err(error) => {
            polite.errors.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = polite.first_errors.lock()
                && first.len() < 10
            {
                first.push(error);
            }
        }
    }
}

/// Starts a flood client from `127.0.0.99` sending `rate` requests/s (in 10 ms bursts).
pub fn start_flood(
    addr: SocketAddr,
    rate: u32,
    stop: Arc<AtomicBool>,
) -> (Arc<Flood>, tokio::task::JoinHandle<()>) {
    let flood = Arc::new(Flood::default());
    let http = client(IpAddr::from([127, 0, 0, 99]));
    let url = format!("http://{addr}/xrpc/org.xmtp.identity.getStatus");
    let per_tick = (rate / 100).max(1);
    let f = flood.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            for _ in 0..per_tick {
                let (http, url, f) = (http.clone(), url.clone(), f.clone());
                f.sent.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move { flood_one(&http, &url, &f).await });
            }
        }
    });
    (flood, task)
}

async fn flood_one(http: &reqwest::Client, url: &str, flood: &Flood) {
    match http.get(url).send().await {
        Ok(res) if res.status() == 200 => {
            let _ = res.bytes().await;
            flood.ok.fetch_add(1, Ordering::Relaxed);
        }
        Ok(res) if res.status() == 429 => {
            let headed = res.headers().contains_key("ratelimit-limit")
                && res.headers().contains_key("ratelimit-reset");
            let body = res.text().await.unwrap_or_default();
            if body.contains("too many open connections from this address") {
                flood.conn_refused.fetch_add(1, Ordering::Relaxed);
                return;
            }
            flood.limited.fetch_add(1, Ordering::Relaxed);
            if !headed || !body.contains("RateLimitExceeded") {
                flood.limited_malformed.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) if !e.is_builder() => {
            flood.no_answer.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = flood.first_other.lock()
                && first.len() < 10
            {
                first.push(format!("no answer: {e}"));
            }
        }
        other => {
            flood.other.fetch_add(1, Ordering::Relaxed);
            let what = match other {
                Ok(res) => format!("{}", res.status()),
                Err(e) => e.to_string(),
            };
            if let Ok(mut first) = flood.first_other.lock()
                && first.len() < 10
            {
                first.push(what);
            }
        }
    }
}
