//! Metric names of the mirror.

/// DIDs queued for a resync because the upstream mentioned them (label `source`: `stream`,
/// `listing`).
pub const HINTS: &str = "mirror_hints_total";
/// Upstream input skipped (label `reason`).
pub const SKIPPED: &str = "mirror_skipped_total";
/// Upstream connections ended (label `reason`).
pub const RECONNECTS: &str = "mirror_reconnects_total";
/// Whether the upstream stream is connected (1) or not (0).
pub const CONNECTED: &str = "mirror_connected";
/// Set to 1 once the mirror has failed over to the relay.
pub const FAILED_OVER: &str = "mirror_failed_over";
