//! Metric names (the `metrics` crate) and their descriptions. The binary installs the
//! recorder and calls [`describe`] once at startup.

/// Frames read, label `type` (commit, identity, account, sync, info, error, unknown...).
pub const FRAMES: &str = "firehose_frames_total";
/// Frames that could not be decoded, label `reason`.
pub const FRAME_ERRORS: &str = "firehose_frame_errors_total";
/// Commits whose checks passed.
pub const COMMITS_VERIFIED: &str = "firehose_commits_verified_total";
/// Commits rejected, label `reason`.
pub const COMMITS_REJECTED: &str = "firehose_commits_rejected_total";
/// Forwarded events ignored without a verdict, label `reason` (stale rev, inactive...).
pub const EVENTS_IGNORED: &str = "firehose_events_ignored_total";
/// Forwarded events deferred to a resync (repo desynchronized), label `reason`.
pub const EVENTS_DEFERRED: &str = "firehose_events_deferred_total";
/// `#identity` events of untracked DIDs claiming a handle the index holds.
pub const HANDLE_CLAIMS: &str = "firehose_handle_claims_total";
/// Repos waiting for a resync (the durable queue's length).
pub const RESYNC_PENDING: &str = "firehose_resync_pending";
/// Resyncs, label `outcome` (queued, applied, applied_absent, deferred, failed).
pub const RESYNCS: &str = "firehose_resyncs_total";
/// Reconnects, label `reason`.
pub const RECONNECTS: &str = "firehose_reconnects_total";
/// Seconds between now and the `time` of the last processed event.
pub const LAG_SECONDS: &str = "firehose_lag_seconds";
/// Frames whose seq did not increase.
pub const SEQ_REGRESSIONS: &str = "firehose_seq_regressions_total";
/// `org.xmtp.inbox` records seen, label `outcome` (put, malformed, delete, ignored_rkey).
pub const INBOX_RECORDS: &str = "firehose_inbox_records_total";
/// Index probes for DIDs the tracked-DID filter let through, label `outcome` (tracked,
/// untracked: a false positive of the filter, error).
pub const TRACKED_PROBES: &str = "firehose_tracked_probes_total";

/// Registers descriptions for every metric above.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(FRAMES, "subscribeRepos frames read, by type");
    describe_counter!(FRAME_ERRORS, "frames that could not be decoded, by reason");
    describe_counter!(
        COMMITS_VERIFIED,
        "commits whose signature and proofs checked out"
    );
    describe_counter!(COMMITS_REJECTED, "commits rejected, by reason");
    describe_counter!(
        EVENTS_IGNORED,
        "forwarded events ignored (stale rev, inactive account...)"
    );
    describe_counter!(
        RESYNCS,
        "record resyncs via com.atproto.sync.getRecord, by outcome"
    );
    describe_counter!(
        EVENTS_DEFERRED,
        "events of desynchronized repos held for a resync, by reason"
    );
    describe_gauge!(RESYNC_PENDING, "repos waiting for a proof-checked resync");
    describe_counter!(
        HANDLE_CLAIMS,
        "identity events of untracked DIDs claiming a handle the index holds"
    );
    describe_counter!(RECONNECTS, "relay reconnects, by reason");
    describe_gauge!(
        LAG_SECONDS,
        "seconds behind the relay (now minus the last event time)"
    );
    describe_counter!(
        SEQ_REGRESSIONS,
        "frames whose seq did not increase (dropped)"
    );
    describe_counter!(
        INBOX_RECORDS,
        "org.xmtp.inbox record operations seen, by outcome"
    );
    describe_counter!(
        TRACKED_PROBES,
        "index probes for DIDs the tracked-DID filter let through, by outcome"
    );
}
