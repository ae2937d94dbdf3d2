//! [`LiveStatus`]: lock-free live counters shared with the XRPC layer (getStatus, health).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Live state of the firehose consumer. All fields are atomics; cheap to read anywhere.
#[derive(Debug, Default)]
pub struct LiveStatus {
    connected: AtomicBool,
    /// Unix ms of the `time` of the last event processed (0 = none yet).
    last_event_ms: AtomicI64,
    /// Unix ms when the last frame arrived (0 = none yet).
    last_frame_at_ms: AtomicI64,
    frames: AtomicU64,
    reconnects: AtomicU64,
    cursor: AtomicI64,
    needs_backfill: AtomicBool,
    future_cursor: AtomicBool,
}

use store::now_millis as now_ms;

impl LiveStatus {
    /// A fresh status (disconnected, nothing seen).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a relay connection is open.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(crate) fn set_connected(&self, v: bool) {
        self.connected.store(v, Ordering::Relaxed);
    }

    /// Seconds between now and the `time` of the last processed event; `None` before any.
    pub fn lag_seconds(&self) -> Option<f64> {
        let t = self.last_event_ms.load(Ordering::Relaxed);
        (t > 0).then(|| ((now_ms() - t).max(0) as f64) / 1000.0)
    }

    pub(crate) fn set_last_event_time(&self, rfc3339: &str) {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) {
            self.last_event_ms
                .store(t.timestamp_millis(), Ordering::Relaxed);
            if let Some(lag) = self.lag_seconds() {
                metrics::gauge!(crate::metrics::LAG_SECONDS).set(lag);
            }
        }
    }

    /// Unix ms when the last frame arrived (0 = none).
    pub fn last_frame_at_unix_ms(&self) -> i64 {
        self.last_frame_at_ms.load(Ordering::Relaxed)
    }

    /// Frames read since start.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    pub(crate) fn add_frames(&self, n: u64) {
        self.frames.fetch_add(n, Ordering::Relaxed);
        self.last_frame_at_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Reconnects since start.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    pub(crate) fn add_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// The last cursor committed to the store (0 = none).
    pub fn cursor(&self) -> i64 {
        self.cursor.load(Ordering::Relaxed)
    }

    pub(crate) fn set_cursor(&self, c: i64) {
        self.cursor.store(c, Ordering::Relaxed);
    }

    /// True once the relay said our cursor is older than its window (`#info
    /// OutdatedCursor`), or the first replayed seq jumped far above our cursor: events were
    /// missed and a backfill should run.
    pub fn needs_backfill(&self) -> bool {
        self.needs_backfill.load(Ordering::Relaxed)
    }

    /// Reads and clears the backfill flag (for the component that starts the backfill).
    pub fn take_needs_backfill(&self) -> bool {
        self.needs_backfill.swap(false, Ordering::Relaxed)
    }

    pub(crate) fn set_needs_backfill(&self) {
        self.needs_backfill.store(true, Ordering::Relaxed);
    }

    /// True while the relay answers `FutureCursor` (operator attention needed).
    pub fn future_cursor(&self) -> bool {
        self.future_cursor.load(Ordering::Relaxed)
    }

    pub(crate) fn set_future_cursor(&self, v: bool) {
        self.future_cursor.store(v, Ordering::Relaxed);
    }
}
