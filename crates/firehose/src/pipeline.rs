//! The public entry points: [`run`] (WebSocket → gate → bounded channel → processor →
//! batches to the single store writer) and [`ingest_frames`] (the same pipeline fed from
//! memory, for fixture replays, tests and benchmarks).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use store::StoreError;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::FirehoseConfig;
use crate::gate::{BATCH_ITEMS, Gate, Item, Outbox};
use crate::process::{Prepared, Processor, ProcessorConfig, Shared};
use crate::status::LiveStatus;
use crate::tracked::TrackedSet;
use crate::worker::{WorkerCtx, run_handle_sweep, run_identity, run_resyncs};
use sync::{IdentitySource, RecordFetcher};

/// What the consumer talks to.
#[derive(Clone)]
pub struct FirehoseDeps {
    /// The single store writer.
    pub writer: store::Writer,
    /// A store reader (cursor, repo states, tracked DIDs).
    pub reader: store::Reader,
    /// Signing keys, PDS endpoints, verified handles (e.g. `identity::Resolver`).
    pub identity: Arc<dyn IdentitySource>,
    /// `sync.getRecord` for resyncs (e.g. [`sync::HttpRecordFetcher`]).
    pub fetcher: Arc<dyn RecordFetcher>,
}

impl std::fmt::Debug for FirehoseDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirehoseDeps").finish_non_exhaustive()
    }
}

/// Why the consumer stopped.
#[derive(Debug, thiserror::Error)]
pub enum FirehoseError {
    /// The store failed (reading the start state or applying a batch).
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Counts from an [`ingest_frames`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Frames fed.
    pub frames: u64,
    /// Batches written.
    pub batches: u64,
}

async fn flush(
    p: &mut Processor,
    writer: &store::Writer,
    status: &LiveStatus,
    batches: &mut u64,
) -> Result<(), StoreError> {
    if let Some(t) = p.last_event_time() {
        status.set_last_event_time(t);
    }
    if let Some(b) = p.take_batch() {
        let cursor = b.cursor;
        writer.apply(b).await?;
        *batches += 1;
        if let Some(c) = cursor {
            status.set_cursor(c);
        }
        if p.take_queued_resyncs() {
            // The queue rows are committed: the resync worker may look now.
            p.shared().wake.notify_one();
        }
    }
    Ok(())
}

/// The channel's capacity in batches: `channel_capacity` items in all, as before.
fn batches_capacity(cfg: &FirehoseConfig) -> usize {
    (cfg.channel_capacity / BATCH_ITEMS).max(2)
}

/// Items prepared ahead of the one being applied: while the head waits for its check,
/// up to this many later items are decoded and their checks queued on the pool.
const IN_FLIGHT: usize = 1_024;

/// Waits until the head of `q` (non-empty) is ready to apply.
async fn head_ready(q: &mut VecDeque<Prepared>) {
    if let Some(h) = q.front_mut() {
        h.ready().await;
    }
}

/// Drains `rx` into the processor, writing a batch every `batch_max_events` events or
/// `batch_interval`, and a final one when the channel closes.
///
/// Items are prepared (decoded, checks queued on the verification pool) as they arrive,
/// up to [`IN_FLIGHT`] ahead, and applied strictly in stream order as their checks
/// complete: a batch, and so the cursor it stores, only ever holds items applied in full.
async fn process_loop(
    cfg: &FirehoseConfig,
    mut rx: mpsc::Receiver<Vec<Item>>,
    mut p: Processor,
    writer: &store::Writer,
    status: &LiveStatus,
) -> Result<u64, StoreError> {
    let mut batches = 0;
    let mut tick = tokio::time::interval(cfg.batch_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut q: VecDeque<Prepared> = VecDeque::new();
    let mut open = true;
    while open || !q.is_empty() {
        // Apply whatever is ready at the head, in order.
        while let Some(h) = q.front_mut() {
            if !h.poll_ready() {
                break;
            }
            if let Some(h) = q.pop_front() {
                p.finish(h).await;
            }
            if p.pending_events() >= cfg.batch_max_events {
                flush(&mut p, writer, status, &mut batches).await?;
            }
        }
        tokio::select! {
            biased;
            item = rx.recv(), if open && q.len() < IN_FLIGHT => match item {
                Some(batch) => {
                    for item in batch {
                        q.push_back(p.prepare(item).await);
                    }
                }
                None => open = false,
            },
            _ = head_ready(&mut q), if !q.is_empty() => {}
            _ = tick.tick() => flush(&mut p, writer, status, &mut batches).await?,
        }
    }
    flush(&mut p, writer, status, &mut batches).await?;
    Ok(batches)
}

struct Parts {
    gate: Gate,
    processor: Processor,
    workers: Vec<tokio::task::JoinHandle<()>>,
    worker_stop: CancellationToken,
}

/// Stops the side workers (running resyncs are idempotent and still queued in the store).
async fn stop_workers(stop: CancellationToken, workers: Vec<tokio::task::JoinHandle<()>>) {
    stop.cancel();
    for w in workers {
        let _ = w.await;
    }
}

async fn build(
    cfg: &FirehoseConfig,
    deps: &FirehoseDeps,
    status: &Arc<LiveStatus>,
) -> Result<Parts, FirehoseError> {
    let state = deps.reader.firehose_state().await?;
    let tracked = TrackedSet::load(&deps.reader).await?;
    let desynced: HashSet<String> = deps
        .reader
        .desynchronized_dids()
        .await?
        .into_iter()
        .map(syntax::Did::into_string)
        .collect();
    tracing::info!(
        cursor = ?state.cursor,
        tracked = tracked.loaded(),
        tracked_filter_bytes = tracked.filter_bytes(),
        desynchronized = desynced.len(),
        "firehose starting"
    );
    metrics::gauge!(crate::metrics::RESYNC_PENDING).set(desynced.len() as f64);
    if let Some(c) = state.cursor {
        status.set_cursor(c);
    }
    let shared = Shared {
        tracked,
        desynced: Arc::new(std::sync::Mutex::new(desynced)),
        ..Shared::default()
    };
    let (id_tx, id_rx) = mpsc::channel(cfg.worker.identity_queue.max(1));
    let worker_stop = CancellationToken::new();
    let ctx = Arc::new(WorkerCtx {
        identity: deps.identity.clone(),
        fetcher: deps.fetcher.clone(),
        writer: deps.writer.clone(),
        reader: deps.reader.clone(),
        shared: shared.clone(),
        cfg: cfg.worker.clone(),
        handles: Some(id_tx.clone()),
    });
    let workers = vec![
        tokio::spawn(run_resyncs(ctx.clone(), worker_stop.clone())),
        tokio::spawn(run_handle_sweep(
            ctx.clone(),
            id_tx.clone(),
            worker_stop.clone(),
        )),
        tokio::spawn(run_identity(ctx, id_rx, id_tx.clone(), worker_stop.clone())),
    ];
    let processor = Processor::new(
        ProcessorConfig {
            verify_all: cfg.verify_all_commits,
            key_timeout: cfg.key_timeout,
            verify_workers: 0,
        },
        deps.identity.clone(),
        deps.reader.clone(),
        shared.clone(),
        id_tx,
    );
    let gate = Gate::new(shared.tracked, cfg.verify_all_commits, state.cursor);
    Ok(Parts {
        gate,
        processor,
        workers,
        worker_stop,
    })
}

/// Consumes the relay's `subscribeRepos` until `shutdown` fires, resuming from the stored
/// cursor. On shutdown the in-flight batch is committed with its cursor. Returns an error
/// only when the store fails (network trouble is retried forever).
pub async fn run(
    cfg: FirehoseConfig,
    deps: FirehoseDeps,
    status: Arc<LiveStatus>,
    shutdown: CancellationToken,
) -> Result<(), FirehoseError> {
    let parts = build(&cfg, &deps, &status).await?;
    let (tx, rx) = mpsc::channel(batches_capacity(&cfg));
    let reader_stop = shutdown.child_token();
    let reader = tokio::spawn(crate::client::reader_loop(
        cfg.clone(),
        parts.gate,
        tx,
        status.clone(),
        reader_stop.clone(),
    ));
    let Parts {
        processor,
        workers,
        worker_stop,
        ..
    } = parts;
    let res = process_loop(&cfg, rx, processor, &deps.writer, &status).await;
    reader_stop.cancel();
    let _ = reader.await;
    stop_workers(worker_stop, workers).await;
    res.map(|_| ()).map_err(FirehoseError::from)
}

/// The side workers alone (durable resyncs, handle refreshes and their sweep), for a process
/// that fills the resync queue itself instead of reading a relay (a mirror of another
/// AppView queues the DIDs its upstream mentions).
pub struct SideWorkers {
    wake: Arc<tokio::sync::Notify>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    stop: CancellationToken,
}

impl SideWorkers {
    /// Starts the workers over the index of `deps` with `cfg.worker`'s settings.
    pub async fn start(cfg: &FirehoseConfig, deps: &FirehoseDeps) -> Result<Self, FirehoseError> {
        let parts = build(cfg, deps, &Arc::new(LiveStatus::new())).await?;
        Ok(SideWorkers {
            wake: parts.processor.shared().wake.clone(),
            workers: parts.workers,
            stop: parts.worker_stop,
        })
    }

    /// Poke it after committing resync rows: the resync worker looks at the queue at once.
    pub fn waker(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// Stops the workers (running resyncs are idempotent and still queued in the store).
    pub async fn stop(self) {
        stop_workers(self.stop, self.workers).await;
    }
}

/// Runs the same pipeline over frames held in memory (no relay), then stops the side
/// workers (queued resyncs stay in the store). Used by fixture replays, tests and benches.
pub async fn ingest_frames<I>(
    cfg: FirehoseConfig,
    deps: FirehoseDeps,
    status: Arc<LiveStatus>,
    frames: I,
) -> Result<IngestReport, FirehoseError>
where
    I: IntoIterator<Item = Bytes> + Send + 'static,
    I::IntoIter: Send,
{
    let Parts {
        mut gate,
        processor,
        workers,
        worker_stop,
    } = build(&cfg, &deps, &status).await?;
    let (tx, rx) = mpsc::channel(batches_capacity(&cfg));
    let feeder = tokio::spawn(async move {
        let mut out = Outbox::new(tx);
        let mut n = 0u64;
        for bytes in frames {
            n += 1;
            let sent = match gate.on_message(bytes) {
                crate::gate::Verdict::Forward(item) => {
                    if out.push_skipped(&mut gate).await.is_err() {
                        break;
                    }
                    out.push(item).await
                }
                _ if gate.pending_skipped() >= 1_000 => out.push_skipped(&mut gate).await,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        if out.push_skipped(&mut gate).await.is_ok() {
            let _ = out.flush().await;
        }
        gate.counts.flush();
        n
    });
    let batches = process_loop(&cfg, rx, processor, &deps.writer, &status).await?;
    let frames = feeder.await.unwrap_or(0);
    status.add_frames(frames);
    stop_workers(worker_stop, workers).await;
    Ok(IngestReport { frames, batches })
}
