//! Revocation within seconds on d14n: `SubscribeEnvelopes` on the identity-update topic of
//! every cached inbox, in batches of `topics_per_stream` topics per stream (bounded number
//! of streams over one HTTP/2 connection). A pushed update for an inbox past its known
//! position sends the inbox to the verifier's "re-check now" queue; the verifier then
//! fetches the log (the push itself is only a hint, never trusted) and re-judges the
//! inbox's links.
//!
//! Durable cursor: each stream resumes from the smallest position (`xmtp_inboxes.
//! last_sequence_id` in SQLite) of its inboxes, so after a restart or a dropped stream every
//! update after what the verifier last replayed is pushed again. A stream that fails (node
//! down) is reopened with backoff; nothing is judged from a failure.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;
use store::Reader;
use tokio::sync::mpsc;
use xmtp::d14n::{D14nIdentityApi, decode_frame, identity_topic};

/// Watcher settings.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Topics per `SubscribeEnvelopes` stream.
    pub topics_per_stream: usize,
    /// Newly cached inboxes are gathered this long before their stream is (re)opened.
    pub refresh: Duration,
    /// First reconnect delay.
    pub retry_base: Duration,
    /// Longest reconnect delay.
    pub retry_max: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            topics_per_stream: 1000,
            refresh: Duration::from_millis(200),
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// Every cached inbox (paged by inbox id; once, at start).
async fn all_inboxes(reader: &Reader) -> Result<Vec<String>, store::StoreError> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = reader.xmtp_inbox_positions(after.clone(), 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.0.clone();
        out.extend(page.into_iter().map(|(id, _)| id));
    }
    Ok(out)
}

/// One stream's inboxes with their positions; reopened until shutdown.
async fn stream_task(
    api: D14nIdentityApi,
    reader: Reader,
    inboxes: Vec<String>,
    tx: mpsc::Sender<String>,
    cfg: WatchConfig,
) {
    let mut failures = 0u32;
    let topics: Vec<Vec<u8>> = inboxes
        .iter()
        .filter_map(|i| identity_topic(i).ok())
        .collect();
    loop {
        // Positions from SQLite: the durable cursor.
        let mut known: HashMap<String, u64> = HashMap::with_capacity(inboxes.len());
        for id in &inboxes {
            let pos = match reader.inbox_state(id).await {
                Ok(Some((seq, _))) => seq,
                _ => 0,
            };
            known.insert(id.clone(), pos);
        }
        let from = known.values().copied().min().unwrap_or(0);
        match api.subscribe(topics.clone(), from).await {
            Ok(mut stream) => loop {
                match stream.message().await {
                    Ok(Some(frame)) => {
                        failures = 0;
                        for (inbox, seq) in decode_frame(&frame) {
                            let Some(pos) = known.get_mut(&inbox) else {
                                continue;
                            };
                            if seq <= *pos {
                                continue;
                            }
                            *pos = seq;
                            metrics::counter!("xmtp_d14n_pushes_total").increment(1);
                            if tx.send(inbox).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!(error = %e, "d14n subscription ended; reopening");
                        break;
                    }
                }
            },
            Err(e) => tracing::info!(error = %e, "d14n subscription failed; retrying"),
        }
        if tx.is_closed() {
            return;
        }
        let delay = backoff::Policy::new(cfg.retry_base, cfg.retry_max).delay(failures.min(10));
        failures = failures.saturating_add(1);
        tokio::time::sleep(delay).await;
    }
}

/// Subscribes for every cached inbox and feeds `recheck` with inboxes to re-check, until
/// `shutdown` resolves. `cached` brings the inboxes the verifier caches from now on
/// ([`crate::Verifier::with_cache_feed`]); every `refresh` the new ones are added (the
/// partial last stream is reopened with them, resuming from SQLite, so nothing is lost and
/// streams stay ≤ inboxes / `topics_per_stream` + 1).
pub async fn run(
    cfg: WatchConfig,
    reader: Reader,
    api: D14nIdentityApi,
    recheck: mpsc::Sender<String>,
    mut cached: mpsc::UnboundedReceiver<String>,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    let mut watched: HashSet<String> = HashSet::new();
    let mut tail: Option<(Vec<String>, tokio::task::AbortHandle)> = None;
    let mut tasks = tokio::task::JoinSet::new();
    let mut found = loop {
        match all_inboxes(&reader).await {
            Ok(all) => break all,
            Err(e) => tracing::warn!(error = %e, "listing inboxes to watch failed; retrying"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(cfg.retry_max) => {}
        }
    };
    loop {
        let new: Vec<String> = found
            .drain(..)
            .filter(|id| watched.insert(id.clone()))
            .collect();
        if !new.is_empty() {
            let mut pending = match tail.take() {
                Some((ids, handle)) => {
                    handle.abort();
                    ids
                }
                None => Vec::new(),
            };
            pending.extend(new);
            let per = cfg.topics_per_stream.max(1);
            let mut batches: Vec<Vec<String>> =
                pending.chunks(per).map(<[String]>::to_vec).collect();
            let last = if batches.last().is_some_and(|b| b.len() < per) {
                batches.pop()
            } else {
                None
            };
            for batch in batches {
                tasks.spawn(stream_task(
                    api.clone(),
                    reader.clone(),
                    batch,
                    recheck.clone(),
                    cfg.clone(),
                ));
            }
            if let Some(b) = last {
                let handle = tasks.spawn(stream_task(
                    api.clone(),
                    reader.clone(),
                    b.clone(),
                    recheck.clone(),
                    cfg.clone(),
                ));
                tail = Some((b, handle));
            }
            metrics::gauge!("xmtp_d14n_watched_inboxes").set(watched.len() as f64);
        }
        // Wait for newly cached inboxes, then gather what else arrives within `refresh`.
        tokio::select! {
            _ = &mut shutdown => break,
            id = cached.recv() => match id {
                Some(id) => found.push(id),
                None => {
                    // The verifier is gone: keep the streams until shutdown.
                    shutdown.as_mut().await;
                    break;
                }
            },
        }
        let until = tokio::time::Instant::now() + cfg.refresh;
        while let Ok(Some(id)) = tokio::time::timeout_at(until, cached.recv()).await {
            found.push(id);
        }
    }
    tasks.shutdown().await;
}
