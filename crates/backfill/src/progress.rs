//! [`Progress`]: live counters a progress bar or log line reads; [`BackfillReport`]: the
//! final summary.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of a running backfill (atomics, cheap to read from another task).
#[derive(Debug, Default)]
pub struct Progress {
    discovered: AtomicU64,
    done_before: AtomicU64,
    indexed: AtomicU64,
    absent: AtomicU64,
    failed: AtomicU64,
    discovering: AtomicBool,
}

impl Progress {
    /// Fresh counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// DIDs known in this pass (after de-duplication).
    pub fn discovered(&self) -> u64 {
        self.discovered.load(Ordering::Relaxed)
    }

    /// DIDs finished in an earlier, interrupted run of this pass.
    pub fn done_before(&self) -> u64 {
        self.done_before.load(Ordering::Relaxed)
    }

    /// Records indexed by this run.
    pub fn indexed(&self) -> u64 {
        self.indexed.load(Ordering::Relaxed)
    }

    /// DIDs whose record was absent, in this run.
    pub fn absent(&self) -> u64 {
        self.absent.load(Ordering::Relaxed)
    }

    /// DIDs that failed, in this run.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// DIDs finished by this run.
    pub fn finished(&self) -> u64 {
        self.indexed() + self.absent() + self.failed()
    }

    /// True while discovery services are being paged.
    pub fn discovering(&self) -> bool {
        self.discovering.load(Ordering::Relaxed)
    }

    pub(crate) fn set_discovered(&self, n: u64) {
        self.discovered.store(n, Ordering::Relaxed);
    }

    pub(crate) fn set_done_before(&self, n: u64) {
        self.done_before.store(n, Ordering::Relaxed);
    }

    pub(crate) fn set_discovering(&self, v: bool) {
        self.discovering.store(v, Ordering::Relaxed);
    }

    pub(crate) fn add(&self, indexed: u64, absent: u64, failed: u64) {
        self.indexed.fetch_add(indexed, Ordering::Relaxed);
        self.absent.fetch_add(absent, Ordering::Relaxed);
        self.failed.fetch_add(failed, Ordering::Relaxed);
    }
}

/// What one run of the backfill did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// DIDs in this pass (de-duplicated over every discovery service).
    pub discovered: u64,
    /// DIDs already finished by an earlier, interrupted run of the same pass.
    pub done_before: u64,
    /// Records indexed (proven present) by this run.
    pub indexed: u64,
    /// DIDs whose record was proven absent (a stale link removed) or not offered.
    pub absent: u64,
    /// DIDs that failed (retries exhausted, bad proof, unresolvable DID).
    pub failed: u64,
    /// Discovery services that could not be paged to the end.
    pub sources_failed: u64,
    /// Stopped by the shutdown signal before the end (resume by running again).
    pub interrupted: bool,
    /// Wall time of this run.
    pub elapsed: Duration,
}

impl std::fmt::Display for BackfillReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let done = self.indexed + self.absent + self.failed;
        let rate = done as f64 / self.elapsed.as_secs_f64().max(1e-3);
        write!(
            f,
            "backfill {}: {} DIDs found, {} records indexed, {} absent, {} failed{} in {:.1}s ({:.0} repos/s){}",
            if self.interrupted {
                "interrupted"
            } else {
                "finished"
            },
            self.discovered,
            self.indexed,
            self.absent,
            self.failed,
            if self.done_before > 0 {
                format!(", {} done by an earlier run", self.done_before)
            } else {
                String::new()
            },
            self.elapsed.as_secs_f64(),
            rate,
            if self.sources_failed > 0 {
                format!("; {} discovery services incomplete", self.sources_failed)
            } else {
                String::new()
            },
        )
    }
}
