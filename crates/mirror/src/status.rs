//! [`MirrorStatus`]: whether the upstream answers, shared with `getStatus` and the failover
//! watch ([`wait_gone`]).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::metrics as m;

/// The live state of the follower.
#[derive(Debug)]
pub struct MirrorStatus {
    connected: AtomicBool,
    last_contact_ms: AtomicI64,
    seq: AtomicI64,
    failed_over: AtomicBool,
}

impl Default for MirrorStatus {
    fn default() -> Self {
        Self::new()
    }
}

impl MirrorStatus {
    /// A fresh status; the grace before failover counts from now.
    pub fn new() -> Self {
        MirrorStatus {
            connected: AtomicBool::new(false),
            last_contact_ms: AtomicI64::new(store::now_millis()),
            seq: AtomicI64::new(-1),
            failed_over: AtomicBool::new(false),
        }
    }

    /// Whether the `subscribeLinks` stream is connected now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(crate) fn set_connected(&self, v: bool) {
        self.connected.store(v, Ordering::Relaxed);
        self.contact();
        metrics::gauge!(m::CONNECTED).set(if v { 1.0 } else { 0.0 });
    }

    /// The upstream answered (a listing page, a connection, a message).
    pub(crate) fn contact(&self) {
        self.last_contact_ms
            .store(store::now_millis(), Ordering::Relaxed);
    }

    /// How long the upstream has not answered (zero while the stream is connected).
    pub fn gone_for(&self) -> Duration {
        if self.is_connected() {
            return Duration::ZERO;
        }
        let since = store::now_millis() - self.last_contact_ms.load(Ordering::Relaxed);
        Duration::from_millis(since.max(0) as u64)
    }

    /// The last upstream seq whose hint is queued, when any.
    pub fn seq(&self) -> Option<i64> {
        Some(self.seq.load(Ordering::Relaxed)).filter(|s| *s >= 0)
    }

    pub(crate) fn set_seq(&self, seq: Option<i64>) {
        self.seq.store(seq.unwrap_or(-1), Ordering::Relaxed);
    }

    /// Whether the mirror gave up on the upstream and follows the relay.
    pub fn failed_over(&self) -> bool {
        self.failed_over.load(Ordering::Relaxed)
    }

    /// Records the failover (the binary starts the relay ingest).
    pub fn set_failed_over(&self) {
        self.failed_over.store(true, Ordering::Relaxed);
        metrics::gauge!(m::FAILED_OVER).set(1.0);
    }
}

/// Returns `true` once the upstream has been gone longer than `grace`, `false` when
/// `shutdown` fires first.
pub async fn wait_gone(
    status: &MirrorStatus,
    grace: Duration,
    shutdown: &CancellationToken,
) -> bool {
    let tick = (grace / 8).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        if status.gone_for() > grace {
            return true;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}
