//! The gate: the reader-side, synchronous first stage of the pipeline.
//!
//! For every binary message it runs the filter-first [`peek`], enforces strictly
//! increasing `seq`, and decides: forward the frame to the processing stage (a commit that
//! touches `org.xmtp.inbox` or belongs to a tracked repo, `#sync`/`#identity`/`#account`
//! and legacy events of tracked repos; everything in `--verify-all-commits` mode), handle it
//! on the spot (error and `#info` frames concern the connection), or count and drop it.
//! Dropped frames are coalesced into [`Item::Skipped`] markers so the cursor still
//! advances without a channel message per frame.
//!
//! The tracked-DID set is shared with the processing stage. The gate adds a DID as soon as
//! it forwards a commit of that DID touching `org.xmtp.inbox`, so the repo's next commits
//! are forwarded too, even before the first one is verified (a superset is harmless).

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::filter::{FrameKind, peek};
use crate::frame::{ErrorFrame, Frame, FrameError, InfoEvent};

pub use crate::tracked::TrackedSet;

/// Something the gate passes to the processing stage, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A frame that matters.
    Frame {
        /// Its `seq`.
        seq: i64,
        /// Its type.
        kind: FrameKind,
        /// The whole binary message.
        bytes: Bytes,
    },
    /// `frames` frames were dropped by the filter; the last had `last_seq`.
    Skipped {
        /// How many.
        frames: u64,
        /// Highest seq among them, if any had one.
        last_seq: Option<i64>,
    },
}

/// What the gate decided about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward to processing.
    Forward(Item),
    /// Counted and dropped (not relevant, unknown type, seq regression, soft error).
    Dropped(&'static str),
    /// An error frame: the server will close; the connection logic decides what next.
    ServerError(ErrorFrame),
    /// An `#info` frame.
    Info(InfoEvent),
    /// The stream is broken (invalid CBOR, trailing bytes...): drop the connection.
    Fatal(FrameError),
}

/// Per-type frame counters, flushed to `metrics` in bulk.
#[derive(Debug, Default, Clone)]
pub struct KindCounts(pub [u64; 10]);

impl KindCounts {
    fn add(&mut self, k: FrameKind) {
        self.0[k as usize] += 1;
    }

    /// Emits and resets the counters (`firehose_frames_total{type}`).
    pub fn flush(&mut self) {
        const KINDS: [FrameKind; 10] = [
            FrameKind::Commit,
            FrameKind::Sync,
            FrameKind::Identity,
            FrameKind::Account,
            FrameKind::Info,
            FrameKind::Handle,
            FrameKind::Migrate,
            FrameKind::Tombstone,
            FrameKind::Error,
            FrameKind::Unknown,
        ];
        for k in KINDS {
            let n = std::mem::take(&mut self.0[k as usize]);
            if n > 0 {
                metrics::counter!(crate::metrics::FRAMES, "type" => k.label()).increment(n);
            }
        }
    }
}

/// The reader-side filter state.
#[derive(Debug)]
pub struct Gate {
    tracked: TrackedSet,
    verify_all: bool,
    last_seq: Option<i64>,
    pending_skip: u64,
    pending_skip_seq: Option<i64>,
    /// Frames seen, by type (flushed by the owner).
    pub counts: KindCounts,
    /// Total frames seen.
    pub frames: u64,
    regressions: u64,
}

impl Gate {
    /// A gate resuming after `cursor` (frames with seq ≤ cursor are duplicates).
    pub fn new(tracked: TrackedSet, verify_all: bool, cursor: Option<i64>) -> Self {
        Self {
            tracked,
            verify_all,
            last_seq: cursor,
            pending_skip: 0,
            pending_skip_seq: None,
            counts: KindCounts::default(),
            frames: 0,
            regressions: 0,
        }
    }

    /// The highest seq seen (forwarded or skipped).
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }

    fn is_tracked(&self, did: &str) -> bool {
        self.tracked.contains(did)
    }

    fn skip(&mut self, seq: Option<i64>, why: &'static str) -> Verdict {
        if seq.is_some() {
            self.pending_skip_seq = seq;
        }
        Verdict::Dropped(why)
    }

    /// Takes the coalesced skip marker, if any frames were dropped since the last call.
    pub fn take_skipped(&mut self) -> Option<Item> {
        if self.pending_skip == 0 {
            return None;
        }
        let frames = std::mem::take(&mut self.pending_skip);
        Some(Item::Skipped {
            frames,
            last_seq: self.pending_skip_seq.take(),
        })
    }

    /// Number of dropped frames not yet reported through [`Gate::take_skipped`].
    pub fn pending_skipped(&self) -> u64 {
        self.pending_skip
    }

    /// Decides about one binary message. Before forwarding a frame, the caller must first
    /// send any pending [`Gate::take_skipped`] marker (to keep stream order).
    pub fn on_message(&mut self, bytes: Bytes) -> Verdict {
        self.frames += 1;
        let v = self.decide(bytes);
        if !matches!(v, Verdict::Forward(_)) {
            // Every frame not forwarded is still reported (frame counter, cursor).
            self.pending_skip += 1;
        }
        v
    }

    fn decide(&mut self, bytes: Bytes) -> Verdict {
        let p = match peek(&bytes) {
            Ok(p) => p,
            Err(e) if e.is_fatal() => return Verdict::Fatal(e),
            Err(e) => {
                metrics::counter!(crate::metrics::FRAME_ERRORS, "reason" => e.label()).increment(1);
                tracing::warn!(error = %e, "undecodable frame skipped");
                return self.skip(None, "malformed");
            }
        };
        self.counts.add(p.kind);
        match p.kind {
            FrameKind::Error => {
                return match Frame::decode(&bytes) {
                    Ok(Frame::Error(e)) => Verdict::ServerError(e),
                    Ok(_) => Verdict::Dropped("unknown"),
                    Err(e) if e.is_fatal() => Verdict::Fatal(e),
                    Err(_) => Verdict::ServerError(ErrorFrame {
                        error: String::new(),
                        message: None,
                    }),
                };
            }
            FrameKind::Info => {
                return match Frame::decode(&bytes) {
                    Ok(Frame::Info(i)) => Verdict::Info(i),
                    Ok(_) | Err(_) => Verdict::Dropped("malformed"),
                };
            }
            FrameKind::Unknown => return Verdict::Dropped("unknown"),
            _ => {}
        }
        // peek guarantees seq and did for the remaining kinds.
        let (Some(seq), Some(did)) = (p.seq, p.did) else {
            return self.skip(None, "malformed");
        };
        // peek leaves text unchecked; a DID that is not UTF-8 is invalid CBOR, as before.
        let did = match did.as_str() {
            Ok(d) => d,
            Err(e) => return Verdict::Fatal(e.into()),
        };
        if let Some(last) = self.last_seq
            && seq <= last
        {
            metrics::counter!(crate::metrics::SEQ_REGRESSIONS).increment(1);
            self.regressions += 1;
            // Logged at 1, 2, 4, 8... so a relay that restarted its sequence cannot flood
            // the log; a reconnect with our cursor then gets FutureCursor (operator alert).
            if self.regressions.is_power_of_two() {
                tracing::warn!(
                    seq,
                    last,
                    did,
                    total = self.regressions,
                    "seq did not increase; frame dropped (out of order, duplicate, or relay reset)"
                );
            }
            return Verdict::Dropped("seq_regression");
        }
        self.last_seq = Some(seq);
        if p.kind == FrameKind::Commit && p.touches_inbox {
            self.tracked.insert(did);
        }
        // Every #identity goes on: its handle may be one the index holds for another DID
        // (a takeover), which only the processor's full decode can tell.
        let forward = self.verify_all
            || p.touches_inbox
            || matches!(p.kind, FrameKind::Identity | FrameKind::Handle)
            || self.is_tracked(did);
        if !forward {
            return self.skip(Some(seq), "irrelevant");
        }
        Verdict::Forward(Item::Frame {
            seq,
            kind: p.kind,
            bytes,
        })
    }
}

/// Items handed across the channel in one message at most.
pub const BATCH_ITEMS: usize = 64;

/// The processing stage is gone (its channel is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// Collects the items of a read burst and hands them to the processing stage as one
/// channel message (a `Vec` of at most [`BATCH_ITEMS`]), in stream order.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Vec<Item>>,
    buf: Vec<Item>,
}

impl Outbox {
    /// An outbox sending on `tx`.
    pub fn new(tx: mpsc::Sender<Vec<Item>>) -> Self {
        Self {
            tx,
            buf: Vec::new(),
        }
    }

    /// Queues `item`; sends the batch when it is full.
    pub async fn push(&mut self, item: Item) -> Result<(), Closed> {
        self.buf.push(item);
        if self.buf.len() >= BATCH_ITEMS {
            self.flush().await
        } else {
            Ok(())
        }
    }

    /// Queues the gate's pending skip marker, if any (it goes before the next item).
    pub async fn push_skipped(&mut self, gate: &mut Gate) -> Result<(), Closed> {
        match gate.take_skipped() {
            Some(s) => self.push(s).await,
            None => Ok(()),
        }
    }

    /// Sends what is queued (waits while the channel is full; nothing is dropped).
    pub async fn flush(&mut self) -> Result<(), Closed> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH_ITEMS));
        self.tx.send(batch).await.map_err(|_| Closed)
    }
}
