//! The data the store takes in (`Batch`, `Change`, `RecordInput`) and gives out (`LinkView`,
//! `FirehoseState`, `RepoState`, `CheckItem`, `Counts`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use syntax::{Cid, Did, Handle, Tid};

/// The verification status of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Both halves of the two-way confirmation hold.
    Verified,
    /// Not checked yet, or the last check hit a transport fault.
    Pending,
    /// Evidence shows the link does not hold (see `reason`).
    Invalid,
}

impl Status {
    /// The lowercase name used in SQL and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::Pending => "pending",
            Status::Invalid => "invalid",
        }
    }
}

impl Status {
    /// The small integer stored in `links.status`: 0 verified, 1 pending, 2 invalid (0 and
    /// 1 cost no byte in a SQLite record, and most links are verified or pending).
    pub fn code(self) -> i64 {
        match self {
            Status::Verified => 0,
            Status::Pending => 1,
            Status::Invalid => 2,
        }
    }

    /// The status stored as `code`.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Status::Verified),
            1 => Some(Status::Pending),
            2 => Some(Status::Invalid),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string was not `verified`, `pending` or `invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown link status {0:?} (expected verified, pending or invalid)")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "verified" => Ok(Status::Verified),
            "pending" => Ok(Status::Pending),
            "invalid" => Ok(Status::Invalid),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

/// The `record` part of a link view: enough for a client to check the signature itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordView {
    /// `at://<did>/org.xmtp.inbox/self`.
    pub uri: String,
    /// The record's CID.
    pub cid: Cid,
    /// Standard base64 of the installation-key signature over the DID.
    pub verification_signature: String,
    /// The record's `createdAt`, as written.
    pub created_at: String,
}

/// The link view of interface.md, served by every query method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    /// The account DID.
    pub did: Did,
    /// The handle, only when verified both ways.
    pub handle: Option<Handle>,
    /// The XMTP inbox ID the record names, as written (a malformed one is a verdict).
    pub inbox_id: String,
    /// The verification status.
    pub status: Status,
    /// Why the link is not verified, when known.
    pub reason: Option<String>,
    /// The record itself.
    pub record: RecordView,
    /// Hex of the installation public key that verified the signature.
    pub installation_key: Option<String>,
    /// When the link was last verified.
    pub verified_at: Option<String>,
    /// When the current record was indexed.
    pub indexed_at: String,
}

/// A record proven to be in a DID's signed repo, as the firehose or backfill read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInput {
    /// The record's CID.
    pub cid: Cid,
    /// The inbox ID (`id`, or `inboxId` in the XIP-66 variant); may be empty when malformed.
    pub inbox_id: String,
    /// `verificationSignature` as written.
    pub verification_signature: String,
    /// `createdAt` as written.
    pub created_at: String,
    /// `Some(reason)` when the record does not match the lexicon: stored as `invalid`.
    pub malformed: Option<String>,
}

/// One change to the index. Identifiers are typed: parsed once, by the caller, at the edge;
/// the store binds their text (or its compact form) as it always has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new or changed `org.xmtp.inbox/self` record. Same CID as stored: no-op. A stored repo
    /// rev newer than `rev`: ignored.
    PutRecord {
        /// The repo's DID.
        did: Did,
        /// The commit rev that carried the record, if known.
        rev: Option<Tid>,
        /// The record.
        record: RecordInput,
    },
    /// The record was deleted: the link goes (same rev rule as `PutRecord`).
    DeleteRecord {
        /// The repo's DID.
        did: Did,
        /// The commit rev that deleted it, if known.
        rev: Option<Tid>,
    },
    /// `#account`: inactive hides the DID's link; `status == "deleted"` removes everything.
    AccountStatus {
        /// The account DID.
        did: Did,
        /// Whether the account is active.
        active: bool,
        /// The upstream status string (`takendown`, `deactivated`, `deleted`, ...).
        status: Option<String>,
    },
    /// The handle verified both ways, or `None` when there is none.
    Handle {
        /// The account DID.
        did: Did,
        /// The verified handle.
        handle: Option<Handle>,
    },
    /// Sync 1.1 state of a tracked repo after a commit (older revs are ignored).
    RepoState {
        /// The repo's DID.
        did: Did,
        /// The commit rev.
        rev: Tid,
        /// The MST root CID (`data`).
        data_cid: Cid,
        /// The commit CID.
        commit_cid: Cid,
    },
    /// The verifier's verdict; applied only if the link still has `record_cid`.
    Verdict {
        /// The account DID.
        did: Did,
        /// The record CID the verdict is about.
        record_cid: Cid,
        /// The new status.
        status: Status,
        /// Why not verified.
        reason: Option<String>,
        /// Hex of the installation key that verified.
        installation_key: Option<String>,
    },
    /// A transport fault: status unchanged, not offered to the verifier before `not_before`.
    RetryLater {
        /// The account DID.
        did: Did,
        /// The record CID the attempt was about.
        record_cid: Cid,
        /// Unix seconds.
        not_before: i64,
    },
    /// The verifier's cached state of one XMTP inbox.
    InboxState {
        /// The inbox ID (as the records name it: the verifier keys its cache by that text).
        inbox_id: String,
        /// The last identity-update sequence id folded into `state`.
        last_sequence_id: u64,
        /// Opaque serialized state.
        state: Vec<u8>,
    },
    /// Backfill progress (source cursors, per-DID outcome).
    Backfill(crate::backfill::BackfillChange),
    /// The durable resync queue (desynchronized repos).
    Resync(crate::resync::ResyncChange),
    /// Deletes `subscribeLinks` events up to `up_to_seq` older than `before_ms` (unix ms).
    PruneLinkEvents {
        /// The highest seq that may go.
        up_to_seq: i64,
        /// Only events committed before this time go.
        before_ms: i64,
    },
    /// A mirror's position in its upstream's stream (replaces the saved one).
    Upstream {
        /// The upstream's base URL.
        upstream: String,
        /// The new position.
        state: crate::upstream::UpstreamState,
    },
}

/// Counters added to the persisted firehose counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsDelta {
    /// Frames read from the relay.
    pub frames: u64,
    /// Commits whose signature (and proof) checked out.
    pub commits_verified: u64,
    /// Commits rejected.
    pub commits_rejected: u64,
}

/// Changes applied in one transaction, with the firehose cursor saved alongside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The changes, applied in order.
    pub changes: Vec<Change>,
    /// The relay seq to resume from after this batch, saved in the same transaction.
    pub cursor: Option<i64>,
    /// Counter increments.
    pub stats: StatsDelta,
}

impl Batch {
    /// A batch of changes with no cursor and no stats.
    pub fn of(changes: Vec<Change>) -> Self {
        Batch {
            changes,
            ..Batch::default()
        }
    }
}

/// The persisted firehose position and counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseState {
    /// The last relay seq applied, `None` before the first.
    pub cursor: Option<i64>,
    /// Frames read.
    pub frames: u64,
    /// Commits verified.
    pub commits_verified: u64,
    /// Commits rejected.
    pub commits_rejected: u64,
}

/// Sync 1.1 state of one repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoState {
    /// The last commit rev.
    pub rev: Tid,
    /// The MST root CID of that commit.
    pub data_cid: Cid,
    /// The commit CID.
    pub commit_cid: Cid,
}

/// A link the verifier should check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckItem {
    /// The account DID.
    pub did: Did,
    /// The inbox ID the record names, as written (a malformed one is a verdict).
    pub inbox_id: String,
    /// The signature to verify over the DID.
    pub verification_signature: String,
    /// The record CID (pass it back in the verdict).
    pub record_cid: Cid,
    /// The current status (`pending`, or `verified` for re-verification).
    pub status: Status,
}

/// Visible links per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Verified links.
    pub verified: u64,
    /// Pending links.
    pub pending: u64,
    /// Invalid links.
    pub invalid: u64,
}
