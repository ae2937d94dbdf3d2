//! subscribeRepos client: WebSocket, backoff, cursor, filter-first frame decoding, commit
//! verification, ingest into the store.
//!
//! The path of a frame: [`client`] reads a binary message; the [`gate`] runs the
//! filter-first [`peek`] (header, `seq`, `repo`, `rev`, `since`, op paths; blocks are
//! stepped over) and drops everything that neither touches `org.xmtp.inbox` nor belongs to
//! a tracked repo; the rest crosses a bounded channel to the [`process`] stage, which
//! decodes fully, checks the CAR, the signature (key from [`IdentitySource`], refreshed
//! once on failure) and the Sync 1.1 inversion, reads the record leniently ([`record`]),
//! and collects [`store::Change`]s into batches written with the cursor in one
//! transaction. Gaps, `#sync` events and unusable commits schedule a `sync.getRecord`
//! resync on the bounded [`worker`].
//!
//! [`frame`] is the wire format (decode and canonical encode, used by the devnet relay).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod backoff;
pub mod cbor;
pub mod client;
pub mod config;
pub mod fetch;
pub mod filter;
pub mod frame;
pub mod gate;
pub mod metrics;
pub mod pipeline;
pub mod process;
pub mod proofs;
pub mod record;
pub mod resync;
pub mod source;
pub mod status;
pub mod synth;
pub mod verify;
pub mod worker;

pub use config::FirehoseConfig;
pub use fetch::HttpRecordFetcher;
pub use filter::{FrameKind, INBOX_COLLECTION, Peek, peek};
pub use frame::{Frame, FrameError};
pub use pipeline::{FirehoseDeps, FirehoseError, IngestReport, ingest_frames, run};
pub use source::{
    BoxFuture, FetchedRecord, IdentitySource, LookupError, RecordFetcher, StaticAccount,
    StaticIdentity,
};
pub use status::LiveStatus;
pub use worker::WorkerConfig;

#[cfg(test)]
mod tests;
