//! `LinkFeed`: the fan-out of `subscribeLinks`. One tail task reads each new outbox event
//! once, encodes its frame once and broadcasts it to every live consumer through a bounded
//! ring (`tokio::sync::broadcast`): the tail never waits for a consumer, and a consumer that
//! falls a whole ring behind learns it (and is closed `ConsumerTooSlow`).

use std::collections::HashMap;
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

struct Inner {
    reader: Reader,
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
        let inner = Arc::new(Inner {
            reader: reader.clone(),
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
            live,
            published,
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
async fn tail(
    reader: Reader,
    live: broadcast::Sender<Frame>,
    published: Arc<AtomicI64>,
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
    published.store(last, Ordering::SeqCst);
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
                published.store(last, Ordering::SeqCst);
                // No receiver is fine: nobody is listening right now.
                let _ = live.send(Frame {
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
