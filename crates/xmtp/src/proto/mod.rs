//! Hand-written prost messages for the subset of the XMTP protobufs we speak.
//!
//! No `protoc`, no `build.rs`: every message is declared with `#[derive(prost::Message)]`
//! and its field numbers copied from `xmtp/proto` (see `docs/xmtp-identity.md` §3.2).
//! prost encodes fields in tag order and skips defaults, like libxmtp's own generated code,
//! so captured updates re-encode byte-for-byte (tested against the captured vectors).

pub mod api;
pub mod associations;
pub mod message_contents;
