//! The `com.atproto.sync.subscribeRepos` wire format.
//!
//! A binary WebSocket message is two DAG-CBOR items back to back: a header `{op, t}` and a
//! body. [`Frame`] is the fully decoded form (owned), [`Frame::decode`] reads it,
//! [`Frame::encode`] (and the `encode_*` functions) write canonical DAG-CBOR, as a relay
//! does. The cheap filter-first look at a frame lives in [`crate::filter`].
//!
//! Decoding rules (sync spec): unknown `op` or `t` → [`Frame::Unknown`]; unknown fields are
//! ignored; invalid CBOR, a header that is not a map, or bytes after the body are
//! [`FrameError::is_fatal`] errors (drop the connection). A body that is valid CBOR but
//! lacks a required field or has a wrong type is a non-fatal schema error: the event is
//! counted and skipped.

mod decode;
mod encode;

pub use decode::decode_header;
pub(crate) use decode::header_fields;
pub use encode::{
    encode_account, encode_commit, encode_error, encode_identity, encode_info, encode_sync,
};

use cid::Cid;
use thiserror::Error;

use repo::cbor::CborError;

/// Maximum size of a frame we accept (sync spec: 5 MB per frame).
pub const MAX_FRAME_BYTES: usize = 5 * 1024 * 1024;
/// Maximum size of a `#commit` `blocks` field (sync spec).
pub const MAX_COMMIT_BLOCKS_BYTES: usize = 2_000_000;
/// Maximum number of ops in a `#commit` (sync spec).
pub const MAX_COMMIT_OPS: usize = 200;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The bytes are not valid DAG-CBOR (fatal: drop the connection).
    #[error("invalid CBOR in frame: {0}")]
    Cbor(#[from] CborError),
    /// Bytes left after the body (fatal).
    #[error("{0} trailing bytes after frame body")]
    Trailing(usize),
    /// The frame is larger than [`MAX_FRAME_BYTES`] (fatal).
    #[error("frame of {0} bytes exceeds the 5 MB limit")]
    TooLarge(usize),
    /// The header lacks `op`, or `op` is 1 without `t` (fatal: bad framing).
    #[error("bad frame header: {0}")]
    Header(&'static str),
    /// A required field is missing from the body (non-fatal: skip the event).
    #[error("{kind} body lacks required field {field}")]
    Missing {
        /// Message type.
        kind: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// A field is present with the wrong shape (non-fatal).
    #[error("{kind} body field {field} is malformed: {why}")]
    Field {
        /// Message type.
        kind: &'static str,
        /// Field name.
        field: &'static str,
        /// Reason.
        why: String,
    },
}

impl FrameError {
    /// True when the error means the stream itself is broken (invalid CBOR or framing), so
    /// the connection must be dropped rather than the one event skipped.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Cbor(_) | Self::Trailing(_) | Self::TooLarge(_) | Self::Header(_)
        )
    }

    /// A short stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Cbor(_) => "invalid_cbor",
            Self::Trailing(_) => "trailing_bytes",
            Self::TooLarge(_) => "too_large",
            Self::Header(_) => "bad_header",
            Self::Missing { .. } => "missing_field",
            Self::Field { .. } => "bad_field",
        }
    }
}

/// Frame header: `op` 1 = message (with `t`), -1 = error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 1 or -1 (other values are ignored as unknown).
    pub op: i64,
    /// Message type such as `#commit`; absent on error frames.
    pub t: Option<String>,
}

/// One record operation of a `#commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoOp {
    /// `create`, `update` or `delete`.
    pub action: String,
    /// `<collection>/<rkey>`.
    pub path: String,
    /// New record CID (create/update); `None` (CBOR null) for delete.
    pub cid: Option<Cid>,
    /// Previous record CID (update/delete, Sync 1.1); absent on create and legacy commits.
    pub prev: Option<Cid>,
}

/// `#commit`: a repository changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Stream sequence.
    pub seq: i64,
    /// Account DID.
    pub repo: String,
    /// Revision (TID) of this commit.
    pub rev: String,
    /// Revision this diff is relative to (null for the first commit).
    pub since: Option<String>,
    /// CID of the signed commit block (first CAR root of `blocks`).
    pub commit: Cid,
    /// CAR v1 slice with the diff.
    pub blocks: Vec<u8>,
    /// Record operations.
    pub ops: Vec<RepoOp>,
    /// MST root of the previous commit (Sync 1.1); `None` on legacy commits.
    pub prev_data: Option<Cid>,
    /// Informal broadcast time.
    pub time: String,
    /// Deprecated; still sent as `[]`.
    pub blobs: Vec<Cid>,
    /// Deprecated; still sent as `false`.
    pub too_big: bool,
    /// Deprecated; still sent as `false`.
    pub rebase: bool,
}

/// `#sync`: the repo's current state, possibly discontinuous with what we had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEvent {
    /// Stream sequence.
    pub seq: i64,
    /// Account DID.
    pub did: String,
    /// Revision of the commit in `blocks`.
    pub rev: String,
    /// CAR holding only the signed commit block.
    pub blocks: Vec<u8>,
    /// Informal broadcast time.
    pub time: String,
}

/// `#identity`: the DID document and/or handle may have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityEvent {
    /// Stream sequence.
    pub seq: i64,
    /// Account DID.
    pub did: String,
    /// Informal broadcast time.
    pub time: String,
    /// Current handle, when the emitter included it (not trusted: re-verified).
    pub handle: Option<String>,
}

/// `#account`: hosting status changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEvent {
    /// Stream sequence.
    pub seq: i64,
    /// Account DID.
    pub did: String,
    /// Informal broadcast time.
    pub time: String,
    /// Whether the account's content may be served.
    pub active: bool,
    /// `takendown`, `suspended`, `deleted`, `deactivated`, `desynchronized`, `throttled`...
    pub status: Option<String>,
}

/// `#info`: an informational message (not persisted, no `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoEvent {
    /// Known value: `OutdatedCursor`.
    pub name: String,
    /// Human text.
    pub message: Option<String>,
}

/// Legacy `#handle` (treated as `#identity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleEvent {
    /// Stream sequence.
    pub seq: i64,
    /// Account DID.
    pub did: String,
    /// New handle.
    pub handle: String,
    /// Informal broadcast time.
    pub time: String,
}

/// Legacy `#migrate` (treated as `#identity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateEvent {
    /// Stream sequence.
    pub seq: i64,
    /// Account DID.
    pub did: String,
    /// New host, if any.
    pub migrate_to: Option<String>,
    /// Informal broadcast time.
    pub time: String,
}

/// Legacy `#tombstone` (treated as `#account` inactive, `deleted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TombstoneEvent {
    /// Stream sequence.
    pub seq: i64,
    /// Account DID.
    pub did: String,
    /// Informal broadcast time.
    pub time: String,
}

/// An error frame (`op: -1`); the server closes the stream after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    /// Bare error name, e.g. `FutureCursor`, `ConsumerTooSlow`.
    pub error: String,
    /// Human text.
    pub message: Option<String>,
}

/// A decoded `subscribeRepos` frame.
// Frames are short-lived values on the slow path; boxing the commit would only make the
// devnet relay's construction noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `#commit`.
    Commit(Commit),
    /// `#sync`.
    Sync(SyncEvent),
    /// `#identity`.
    Identity(IdentityEvent),
    /// `#account`.
    Account(AccountEvent),
    /// `#info`.
    Info(InfoEvent),
    /// Legacy `#handle`.
    Handle(HandleEvent),
    /// Legacy `#migrate`.
    Migrate(MigrateEvent),
    /// Legacy `#tombstone`.
    Tombstone(TombstoneEvent),
    /// `op: -1`.
    Error(ErrorFrame),
    /// Unknown `op` or `t`: to be ignored.
    Unknown {
        /// The header's `op`.
        op: i64,
        /// The header's `t`.
        t: Option<String>,
    },
}

impl Frame {
    /// Decodes a whole binary WebSocket message.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        decode::decode_frame(bytes)
    }

    /// Encodes as canonical DAG-CBOR (header + body). `Unknown` encodes its header and an
    /// empty body map.
    pub fn encode(&self) -> Vec<u8> {
        encode::encode_frame(self)
    }

    /// The stream sequence, for types that have one.
    pub fn seq(&self) -> Option<i64> {
        match self {
            Frame::Commit(c) => Some(c.seq),
            Frame::Sync(e) => Some(e.seq),
            Frame::Identity(e) => Some(e.seq),
            Frame::Account(e) => Some(e.seq),
            Frame::Handle(e) => Some(e.seq),
            Frame::Migrate(e) => Some(e.seq),
            Frame::Tombstone(e) => Some(e.seq),
            Frame::Info(_) | Frame::Error(_) | Frame::Unknown { .. } => None,
        }
    }

    /// The account DID, for types that have one.
    pub fn did(&self) -> Option<&str> {
        match self {
            Frame::Commit(c) => Some(&c.repo),
            Frame::Sync(e) => Some(&e.did),
            Frame::Identity(e) => Some(&e.did),
            Frame::Account(e) => Some(&e.did),
            Frame::Handle(e) => Some(&e.did),
            Frame::Migrate(e) => Some(&e.did),
            Frame::Tombstone(e) => Some(&e.did),
            Frame::Info(_) | Frame::Error(_) | Frame::Unknown { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests;
