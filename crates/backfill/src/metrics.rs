//! Metric names of the backfill (Prometheus via the `metrics` facade).

/// Counter: DIDs listed by discovery services (before de-duplication), label `method`.
pub const REPOS_DISCOVERED: &str = "backfill_repos_discovered_total";
/// Counter: DIDs finished, label `outcome` = `indexed` | `absent` | `failed`.
pub const RECORDS: &str = "backfill_records_total";
/// Counter: HTTP retries, label `why` = `rate_limited` | `server` | `network`.
pub const HTTP_RETRIES: &str = "backfill_http_retries_total";

/// Registers descriptions (call once at start-up, after the recorder is installed).
pub fn describe() {
    metrics::describe_counter!(REPOS_DISCOVERED, "DIDs listed by discovery services");
    metrics::describe_counter!(
        RECORDS,
        "DIDs whose org.xmtp.inbox record was fetched, by outcome"
    );
    metrics::describe_counter!(HTTP_RETRIES, "HTTP requests retried by the backfill");
}
