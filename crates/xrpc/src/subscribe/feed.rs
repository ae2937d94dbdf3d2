//! `LinkFeed`: the fan-out of `subscribeLinks`. One tail task reads each new outbox event
//! once, encodes its frame once and broadcasts it to every live consumer through a bounded
//! ring (`tokio::sync::broadcast`): the tail never waits for a consumer, and a consumer that
//! falls a whole ring behind learns it (and is closed `ConsumerTooSlow`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use store::Reader;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};

use super::frame;

/// The feed's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFeedConfig {
    /// Frames a live consumer may have queued (the shared ring). A consumer that falls a
    /// whole ring behind catches up from the database if it is at most `max_lag` events
    /// behind the newest, and is closed `ConsumerTooSlow` otherwise.
    pub buffer: usize,
    /// How many events a consumer may be behind the newest before it is `ConsumerTooSlow`.
    pub max_lag: usize,
    /// The most consumers at once; more are answered 503 `Overloaded`.
    pub max_subscribers: usize,
    /// The most consumers at once from one client IP; more are answered 429
    /// `RateLimitExceeded` (so one client cannot take every slot).
    pub max_per_client: usize,
    /// Events read from the outbox per query (tail and replay).
    pub page: usize,
    /// How often a feed without a writer (a read-only replica) polls for new events.
    pub poll: Duration,
    /// Encoded frames of the newest events kept for consumers that catch up (a cursor
    /// shortly behind, or a burst that overran the ring): served from memory, encoded once,
    /// instead of each consumer reading and encoding them from the outbox again.
    pub recent: usize,
}

impl Default for LinkFeedConfig {
    fn default() -> Self {
        LinkFeedConfig {
            buffer: 4_096,
            max_lag: 65_536,
            max_subscribers: 1_024,
            max_per_client: 16,
            page: 512,
            poll: Duration::from_millis(250),
            // About 10 MB at ~600 B per frame.
            recent: 16_384,
        }
    }
}

/// One encoded event frame and its seq.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) seq: i64,
    pub(crate) bytes: Bytes,
}

/// What wakes the tail: the writer's commits, or a timer.
enum Wake {
    Writer(watch::Receiver<i64>),
    Poll(tokio::time::Interval),
}

/// The newest encoded frames, in seq order (consecutive seqs, the tail's own order).
type Recent = Arc<Mutex<VecDeque<Frame>>>;

struct Inner {
    reader: Reader,
    recent: Recent,
    /// The seq of the newest frame the tail broadcast.
    published: Arc<AtomicI64>,
    live: broadcast::Sender<Frame>,
    closing: watch::Sender<bool>,
    subscribers: Arc<Semaphore>,
    per_client: ClientTable,
    config: LinkFeedConfig,
}

/// Open streams per client IP.
type ClientTable = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// Why a consumer was not admitted.
pub(crate) enum Refused {
    /// The server is at `max_subscribers`.
    Full,
    /// This client is at `max_per_client`.
    Client,
}

/// A consumer's slot, given back when dropped.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    client: Option<(IpAddr, ClientTable)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((ip, table)) = &self.client {
            let mut table = table
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(n) = table.get_mut(ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    table.remove(ip);
                }
            }
        }
    }
}

/// The shared fan-out of `subscribeLinks`; cheap to clone. The tail task stops when
/// [`LinkFeed::close`] is called or every handle is gone.
#[derive(Clone)]
pub struct LinkFeed {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LinkFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkFeed")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl LinkFeed {
    /// A feed woken by the writer's commits (`store::Writer::link_events`). Must be called
    /// inside a Tokio runtime.
    pub fn from_writer(
        reader: Reader,
        commits: watch::Receiver<i64>,
        config: LinkFeedConfig,
    ) -> LinkFeed {
        LinkFeed::start(reader, Wake::Writer(commits), config)
    }

    /// A feed that polls the outbox every `config.poll` (a read-only replica, which no
    /// writer notifies). Must be called inside a Tokio runtime.
    pub fn polling(reader: Reader, config: LinkFeedConfig) -> LinkFeed {
        let mut interval = tokio::time::interval(config.poll.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        LinkFeed::start(reader, Wake::Poll(interval), config)
    }

    fn start(reader: Reader, wake: Wake, config: LinkFeedConfig) -> LinkFeed {
        let (live, _) = broadcast::channel(config.buffer.max(1));
        let (closing, closed) = watch::channel(false);
        let start = match &wake {
            Wake::Writer(commits) => *commits.borrow(),
            Wake::Poll(_) => 0,
        };
        let published = Arc::new(AtomicI64::new(start));
        let recent: Recent = Arc::default();
        let inner = Arc::new(Inner {
            reader: reader.clone(),
            recent: recent.clone(),
            published: published.clone(),
            live: live.clone(),
            closing,
            subscribers: Arc::new(Semaphore::new(
                config.max_subscribers.clamp(1, Semaphore::MAX_PERMITS),
            )),
            per_client: Arc::default(),
            config,
        });
        tokio::spawn(tail(
            reader,
            Publish {
                live,
                published,
                recent,
                keep: config.recent,
            },
            wake,
            closed,
            config.page.max(1),
        ));
        LinkFeed { inner }
    }

    /// Stops the tail and ends every subscription (server shutdown).
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    pub(crate) fn reader(&self) -> &Reader {
        &self.inner.reader
    }

    pub(crate) fn page(&self) -> usize {
        self.inner.config.page.max(1)
    }

    /// How many events a consumer that sent `last` is behind the newest broadcast, if that
    /// is more than the consumer may be.
    pub(crate) fn too_far_behind(&self, last: i64) -> Option<i64> {
        let behind = self.published().saturating_sub(last);
        (behind > i64::try_from(self.inner.config.max_lag).unwrap_or(i64::MAX)).then_some(behind)
    }

    /// The seq of the newest frame broadcast (or the latest seq when the feed started).
    pub(crate) fn published(&self) -> i64 {
        self.inner.published.load(Ordering::SeqCst)
    }

    /// The kept frames after seq `after`, up to `limit`, when the cache holds the one right
    /// after it (`None`: read the outbox instead).
    pub(crate) fn recent_after(&self, after: i64, limit: usize) -> Option<Vec<Frame>> {
        let recent = self
            .inner
            .recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        frames_after(&recent, after, limit)
    }

    /// Live frames from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.inner.live.subscribe()
    }

    /// Resolves when the feed is closed.
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// A consumer slot for a client at `ip` (none: served in-process, only the total cap).
    pub(crate) fn admit(&self, ip: Option<IpAddr>) -> Result<Slot, Refused> {
        let permit = self
            .inner
            .subscribers
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Full)?;
        let client = match ip {
            None => None,
            Some(ip) => {
                let table = &self.inner.per_client;
                let mut counts = table
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let n = counts.entry(ip).or_insert(0);
                if *n >= self.inner.config.max_per_client.max(1) {
                    return Err(Refused::Client);
                }
                *n += 1;
                Some((ip, table.clone()))
            }
        };
        Ok(Slot {
            _permit: permit,
            client,
        })
    }
}

/// Reads every event committed after the feed started, in seq order, and broadcasts its
/// frame; a failed read is retried after a pause (nothing is skipped: `last` only moves
/// past events that were sent).
/// Where the tail puts each frame: the live ring, the newest seq, the kept frames.
struct Publish {
    live: broadcast::Sender<Frame>,
    published: Arc<AtomicI64>,
    recent: Recent,
    keep: usize,
}

impl Publish {
    fn send(&self, frame: Frame) {
        keep(
            &mut self
                .recent
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            &frame,
            self.keep,
        );
        self.published.store(frame.seq, Ordering::SeqCst);
        // No receiver is fine: nobody is listening right now.
        let _ = self.live.send(frame);
    }
}

/// Appends `frame` to the kept frames, at most `cap` of them, consecutive seqs only (after a
/// gap the older ones are dropped, so a seq's place is its distance from the first).
fn keep(recent: &mut VecDeque<Frame>, frame: &Frame, cap: usize) {
    if recent.back().is_some_and(|f| f.seq + 1 != frame.seq) {
        recent.clear();
    }
    if cap == 0 {
        return;
    }
    if recent.len() >= cap {
        recent.pop_front();
    }
    recent.push_back(frame.clone());
}

/// Up to `limit` kept frames after seq `after`, when the one right after it is kept.
fn frames_after(recent: &VecDeque<Frame>, after: i64, limit: usize) -> Option<Vec<Frame>> {
    let first = recent.front()?.seq;
    let newest = recent.back()?.seq;
    if after + 1 < first || after >= newest {
        return None;
    }
    let from = usize::try_from(after + 1 - first).ok()?;
    Some(recent.range(from..).take(limit).cloned().collect())
}

async fn tail(
    reader: Reader,
    publish: Publish,
    mut wake: Wake,
    mut closed: watch::Receiver<bool>,
    page: usize,
) {
    let last = match &mut wake {
        Wake::Writer(commits) => *commits.borrow_and_update(),
        Wake::Poll(_) => loop {
            match reader.link_event_window().await {
                Ok(window) => break window.latest,
                Err(e) => {
                    tracing::warn!(error = %e, "subscribeLinks: reading the outbox failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        },
    };
    publish.published.store(last, Ordering::SeqCst);
    let mut last = last;
    loop {
        loop {
            let events = match reader.link_events_after(last, page).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "subscribeLinks: reading the outbox failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let full = events.len() == page;
            for event in &events {
                last = event.seq;
                publish.send(Frame {
                    seq: event.seq,
                    bytes: frame::link(event),
                });
            }
            metrics::counter!("xrpc_subscribe_events_total").increment(events.len() as u64);
            if !full {
                break;
            }
        }
        let woke = tokio::select! {
            changed = closed.changed() => changed.is_ok() && !*closed.borrow(),
            woke = async {
                match &mut wake {
                    Wake::Writer(commits) => commits.changed().await.is_ok(),
                    Wake::Poll(interval) => {
                        interval.tick().await;
                        true
                    }
                }
            } => woke,
        };
        if !woke {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: i64) -> Frame {
        Frame {
            seq,
            bytes: Bytes::from(seq.to_string()),
        }
    }

    fn seqs(frames: Option<Vec<Frame>>) -> Option<Vec<i64>> {
        frames.map(|f| f.into_iter().map(|f| f.seq).collect())
    }

    #[test]
    fn kept_frames_serve_a_consumer_only_from_the_one_right_after_its_seq() {
        let mut recent = VecDeque::new();
        for seq in 1..=10 {
            keep(&mut recent, &frame(seq), 4);
        }
        // Seqs 7..=10 are kept.
        assert_eq!(seqs(frames_after(&recent, 6, 100)), Some(vec![7, 8, 9, 10]));
        assert_eq!(seqs(frames_after(&recent, 8, 1)), Some(vec![9]));
        // Too far behind (6 is the oldest seq it can serve after) or up to date.
        assert_eq!(seqs(frames_after(&recent, 5, 100)), None);
        assert_eq!(seqs(frames_after(&recent, 10, 100)), None);
        assert_eq!(seqs(frames_after(&recent, 11, 100)), None);
        // A gap in seqs starts afresh: no frame is ever served out of its place.
        keep(&mut recent, &frame(12), 4);
        assert_eq!(seqs(frames_after(&recent, 10, 100)), None);
        assert_eq!(seqs(frames_after(&recent, 11, 100)), Some(vec![12]));
        // Nothing kept when the cache is off.
        let mut off = VecDeque::new();
        keep(&mut off, &frame(1), 0);
        assert_eq!(seqs(frames_after(&off, 0, 100)), None);
    }
}
