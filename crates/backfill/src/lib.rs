//! Backfill: find every repo that holds `org.xmtp.inbox` and index its current record.
//!
//! 1. [`discover`] pages `com.atproto.sync.listReposByCollection` on every discovery service
//!    (falling back to `com.atproto.sync.listRepos` when a service does not offer it) and
//!    records the DIDs, de-duplicated, with each service's page cursor.
//! 2. [`fetch`] resolves each DID, fetches `org.xmtp.inbox/self` with `sync.getRecord` from its
//!    PDS and checks the proof exactly like a firehose commit
//!    ([`sync::resync::fetch_inbox_changes`]); the record (or its proven absence), the
//!    repo state and the verified handle go to the store with the DID's progress, in one
//!    transaction. The store's newer-rev-wins rule reconciles this with the firehose.
//!
//! Requests go through [`http::HostPool`]: bounded concurrency per host, timeouts, retries
//! with exponential backoff and jitter, and `Retry-After` on 429 honoured for the whole host.
//! A transport fault never deletes or invalidates anything; it leaves the DID `failed` for the
//! next pass. Progress lives in SQLite (migration 0003), so a stopped backfill resumes.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod config;
pub mod discover;
pub mod error;
pub mod fetch;
pub mod http;
pub mod metrics;
pub mod progress;
pub mod run;

pub use config::BackfillConfig;
pub use error::BackfillError;
pub use http::{HostPool, PoliteFetcher};
pub use progress::{BackfillReport, Progress};
pub use run::{BackfillDeps, backfill_when_needed, run_backfill};
