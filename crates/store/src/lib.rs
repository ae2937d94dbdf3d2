//! The SQLite index: migrations, the single [`Writer`], the read-only [`Reader`] pool.
//! Only SQL lives here; every other crate talks to the index through these types.
//!
//! Architecture invariants:
//! - one thread owns the only write connection; every write is a [`Batch`] applied in one
//!   transaction together with the firehose cursor, so a crash never splits them;
//! - readers use read-only WAL connections from a pool, so queries never wait on ingest; they
//!   run on `spawn_blocking`, except the single primary-key probes of the hot path, which are
//!   cheaper than the thread hand-off and run inline;
//! - links of inactive accounts are hidden from every query.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod apply;
mod backfill;
mod compact;
mod conn;
mod cursor;
mod did_keys;
mod due;
mod error;
mod export;
mod handles;
mod json;
mod migrate;
pub mod mode;
mod outbox;
mod queries;
mod reader;
mod reason;
mod render;
mod resync;
mod rows;
mod store;
mod time;
mod tracked;
mod types;
mod upstream;
mod writer;
mod xmtp_watch;

#[cfg(test)]
mod tests;

pub use backfill::{BackfillChange, BackfillCounts, BackfillSource, BackfillState};
pub use compact::did_key;
pub use did_keys::DidKeys;
pub use due::LinkActivity;
pub use error::StoreError;
pub use export::{export_sqlite, for_each_link};
pub use migrate::{MIGRATIONS, Migration};
pub use outbox::{EventKind, EventWindow, LinkEvent, prune_link_events};
pub use reader::{Reader, ReaderOptions, ReplicaStatus};
pub use reason::{MAX_REASON_BYTES, ReasonCode, UnknownReason};
pub use resync::{DueResyncs, ResyncChange, ResyncItem};
pub use rows::{BAD_ROWS, describe_metrics};
pub use store::{Store, StoreOptions};
pub use time::{format_unix_millis, now_micros, now_millis, now_secs};
pub use types::{
    Batch, Change, CheckItem, Counts, FirehoseState, LinkView, RecordInput, RecordView, RepoState,
    StatsDelta, Status,
};
pub use upstream::UpstreamState;
pub use writer::Writer;
