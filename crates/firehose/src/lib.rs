//! subscribeRepos client: WebSocket, backoff, cursor, filter-first frame decoding, commit
//! verification, ingest into the store.
//!
//! The path of a frame: [`client`] reads a binary message; the [`gate`] runs the
//! filter-first [`wire::peek`] (header, `seq`, `repo`, `rev`, `since`, op paths; blocks are
//! stepped over) and drops everything that neither touches `org.xmtp.inbox` nor belongs to
//! a tracked repo; the rest crosses a bounded channel to the [`process`] stage, which
//! decodes fully and asks [`sync`] what the commit may change (signature, then every
//! `org.xmtp.inbox/self` op proven against the signed root, chain continuity), and collects
//! [`store::Change`]s into batches written with the cursor in one transaction. Gaps,
//! `#sync` events, unproven ops and keys that do not arrive desynchronize the repo into
//! the store's durable resync queue, which the [`worker`] drains.
//!
//! The wire format (frames, [`wire::peek`]) is the [`wire`] crate; `crate::frame` and
//! `crate::filter` name its modules here.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use wire::{filter, frame};

pub mod client;
pub mod config;
pub mod gate;
pub mod metrics;
pub mod pipeline;
pub mod process;
pub mod status;
pub mod tracked;
pub mod verify;
pub mod worker;
pub mod ws;

pub use config::FirehoseConfig;
pub use pipeline::{FirehoseDeps, FirehoseError, IngestReport, SideWorkers, ingest_frames, run};
pub use process::{Outcome, ProcessorConfig, Shared};
pub use status::LiveStatus;
pub use tracked::TrackedSet;
pub use worker::WorkerConfig;

#[cfg(test)]
mod tests;
