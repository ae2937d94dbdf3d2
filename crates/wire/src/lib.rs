//! The `com.atproto.sync.subscribeRepos` wire format, pure and without IO.
//!
//! [`frame`] decodes a binary WebSocket message into an owned [`Frame`] and encodes frames
//! as canonical DAG-CBOR (as a relay does; the devnet relay uses it). [`filter`] is the
//! filter-first look at a frame ([`peek`]): the header, `seq`, `repo`, `rev`, `since` and op
//! paths, blocks stepped over, nothing allocated. Both read with the one DAG-CBOR reader,
//! [`repo::cbor::Reader`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod filter;
pub mod frame;

pub use filter::{FrameKind, INBOX_COLLECTION, Peek, Text, peek};
pub use frame::{Frame, FrameError};
