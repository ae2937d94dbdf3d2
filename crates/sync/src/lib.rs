//! Repo sync rules shared by the firehose, its resync worker, backfill and the `verify`
//! command, so that every path accepts exactly the same evidence.
//!
//! - [`commit`]: structural checks of a `#commit`/`#sync` envelope before its signature.
//! - [`admit`]: *may this change reach the index?* — every `org.xmtp.inbox/self` change must
//!   be proven against the signed repo root (Sync 1.1 inversion, or an MST path for commits
//!   without `prevData`, or a `getRecord` proof), and tracked repos must continue their chain.
//! - [`rev`]: the one rev rule (a valid TID, at most 5 minutes ahead).
//! - [`resync`]: fetch `org.xmtp.inbox/self` with `sync.getRecord` and check its proof.
//! - [`source`]: what sync needs from the outside world (signing keys, PDS endpoints,
//!   handles, `getRecord`), as object-safe traits; [`fetch`] is the HTTP `getRecord`.
//! - [`record`]: the lenient `org.xmtp.inbox` record policy.
//! - [`hosts`]: per-host backoff (one [`backoff::Backoff`] per failing host).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admit;
/// The workspace's backoff crate, re-exported beside [`hosts`] that keeps one per host.
pub use ::backoff;
pub mod commit;
pub mod fetch;
pub mod hosts;
pub mod proofs;
pub mod record;
pub mod resync;
pub mod rev;
pub mod source;

pub use admit::{Admitted, Continuity, InboxChange, RepoPoint, admit_commit, continuity};
pub use commit::{Envelope, EnvelopeOp, Parsed, Reject};
pub use fetch::HttpRecordFetcher;
pub use record::{INBOX_COLLECTION, INBOX_RKEY};
pub use resync::{FetchedInbox, InboxOutcome, ResyncError, fetch_inbox_at, fetch_inbox_changes};
pub use source::{
    BoxFuture, FetchedRecord, IdentitySource, LookupError, RecordFetcher, RepoStatus,
    StaticAccount, StaticIdentity,
};
