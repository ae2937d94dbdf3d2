//! Verifier settings.

use crate::tier::TierConfig;
use std::time::Duration;

/// How the verifier pool works.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Re-check verified links at least this often (`--reverify-after`).
    pub reverify_after: Duration,
    /// Re-check recently active verified links more often, within a budget
    /// (`--reverify-active-after`, `--active-window`; see [`crate::tier`]).
    pub tier: TierConfig,
    /// Links taken from the store per round.
    pub batch_size: usize,
    /// Inboxes per `GetIdentityUpdates` request (≤ 50).
    pub inboxes_per_request: usize,
    /// Requests (chunk tasks) in flight at once.
    pub concurrency: usize,
    /// Sleep when there is nothing to check: the longest a new link waits for the verifier
    /// to notice it (one cheap indexed query per interval when idle).
    pub idle_interval: Duration,
    /// First delay after a transport fault.
    pub retry_base: Duration,
    /// Longest delay after repeated transport faults.
    pub retry_max: Duration,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            reverify_after: Duration::from_secs(24 * 3600),
            tier: TierConfig::default(),
            batch_size: 4000,
            inboxes_per_request: 50,
            concurrency: 16,
            // 1 s made a new record wait up to a second before its check began (issue 11:
            // record -> verified p99 < 500 ms).
            idle_interval: Duration::from_millis(100),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
        }
    }
}
