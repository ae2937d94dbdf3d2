//! subscribeRepos client: WebSocket, backoff, cursor, filter-first frame decoding, commit
//! verification, ingest into the store.
//!
//! Layout: [`cbor`] is a tiny bounded DAG-CBOR reader/writer; [`frame`] is the wire format
//! (decode and canonical encode, used by the devnet relay); [`filter`] is the filter-first
//! peek that decides, before anything is decoded or verified, whether a frame matters.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cbor;
pub mod filter;
pub mod frame;

pub use filter::{FrameKind, INBOX_COLLECTION, Peek, peek};
pub use frame::{Frame, FrameError};
