//! May this change reach the index? The one place that decides, for the firehose, the
//! resync worker, backfill and `verify`.
//!
//! The rule: an `org.xmtp.inbox/self` record enters, changes or leaves the index only when
//! the signed repo root proves it.
//! - A `#commit` with `prevData` (Sync 1.1): the ops are checked against the signed MST and
//!   undone, and the result must be `prevData` ([`repo::VerifiedCommit::invert`]).
//! - A `#commit` without `prevData`: each `org.xmtp.inbox/self` op must be proven by an MST
//!   path in the CAR from the signed `data` root: the op's CID for create/update, absence for
//!   delete ([`repo::VerifiedCommit::check_ops`]). Missing or wrong proof: nothing applies;
//!   the caller resyncs through `getRecord`.
//! - A `getRecord` proof ([`admit_record_proof`]): the signed commit's MST path to the key,
//!   present or absent, and the rev rule.
//! - Chain continuity of a tracked repo ([`continuity`]): `since` must be the last rev we
//!   applied and `prevData` (when present) the last `data`. A break desynchronizes the repo,
//!   and its events are not applied until a resync lands.

use cid::Cid;
use repo::{Op, OpAction, VerifiedCommit};
use store::RecordInput;
use syntax::Tid;

use crate::commit::{Reject, proof_reject};
use crate::record::{INBOX_COLLECTION, INBOX_RKEY, parse_inbox_record, split_path};

/// A change to the one record the index reads, proven against a signed root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxChange {
    /// `org.xmtp.inbox/self` holds this record (read leniently: `malformed` says why unusable).
    Put(RecordInput),
    /// `org.xmtp.inbox/self` is absent.
    Delete,
}

/// What a verified commit may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// True when the whole diff was inverted to `prevData` (Sync 1.1).
    pub inverted: bool,
    /// The proven change to `org.xmtp.inbox/self`, if the commit touches it.
    pub change: Option<InboxChange>,
    /// `org.xmtp.inbox` ops under another rkey (ignored: never indexed).
    pub ignored_rkeys: Vec<String>,
}

/// True for the one path the index reads.
fn is_inbox_self(path: &str) -> bool {
    split_path(path).is_some_and(|(c, r)| c == INBOX_COLLECTION && r == INBOX_RKEY)
}

/// Decides what a signature-checked `#commit` may change (see the module doc). `ops` are the
/// envelope's ops (unsigned); `prev_data` the envelope's `prevData` (unsigned).
pub fn admit_commit(
    verified: &VerifiedCommit<'_>,
    ops: &[Op<'_>],
    prev_data: Option<&Cid>,
) -> Result<Admitted, Reject> {
    let inverted = match prev_data {
        Some(prev) => {
            verified
                .invert(ops, prev)
                .map_err(|e| proof_reject(e, true))?;
            true
        }
        None => {
            let inbox: Vec<Op<'_>> = ops
                .iter()
                .filter(|o| is_inbox_self(o.path))
                .copied()
                .collect();
            if !inbox.is_empty() {
                verified
                    .check_ops(&inbox)
                    .map_err(|e| proof_reject(e, false))?;
            }
            false
        }
    };
    let mut change = None;
    let mut ignored_rkeys = Vec::new();
    for op in ops {
        let Some((col, rkey)) = split_path(op.path) else {
            continue;
        };
        if col != INBOX_COLLECTION {
            continue;
        }
        if rkey != INBOX_RKEY {
            ignored_rkeys.push(rkey.to_owned());
            continue;
        }
        change = Some(match (op.action, op.cid) {
            (OpAction::Create | OpAction::Update, Some(cid)) => {
                let block = verified
                    .block(&cid)
                    .ok_or_else(|| Reject::MissingRecord(op.path.to_owned()))?;
                InboxChange::Put(parse_inbox_record(text_cid(&cid)?, block))
            }
            _ => InboxChange::Delete,
        });
    }
    Ok(Admitted {
        inverted,
        change,
        ignored_rkeys,
    })
}

/// The last applied state of a tracked repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPoint {
    /// Last applied rev.
    pub rev: Tid,
    /// Its MST root (`data`), when known.
    pub data: Option<syntax::Cid>,
}

/// Whether a commit continues the chain of a tracked repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// `since` and `prevData` follow on from the last applied commit.
    Continuous,
    /// `rev` is not newer than the last applied rev: a replay or an out-of-order event.
    Stale,
    /// `since` is not the last applied rev, or `prevData` not the last `data`.
    Broken(&'static str),
}

/// Decides continuity of a commit (`rev`, `since`, `prevData`) after `known`.
pub fn continuity(
    known: &RepoPoint,
    rev: &Tid,
    since: Option<&str>,
    prev_data: Option<&Cid>,
) -> Continuity {
    if rev.as_str() <= known.rev.as_str() {
        return Continuity::Stale;
    }
    if since != Some(known.rev.as_str()) {
        return Continuity::Broken("since");
    }
    if let (Some(p), Some(d)) = (prev_data, known.data.as_ref())
        && p.to_string() != d.as_str()
    {
        return Continuity::Broken("prev_data");
    }
    Continuity::Continuous
}

/// The string form of a hash-checked record CID (a CID the syntax rules refuse is bad
/// syntax, never a panic).
fn text_cid(cid: &Cid) -> Result<syntax::Cid, Reject> {
    syntax::Cid::parse(&cid.to_string()).map_err(|e| Reject::Syntax(format!("record CID: {e}")))
}

/// Decides what a signature-checked `getRecord` proof may change: the rev rule (the rev,
/// parsed, is returned), then the record (present) or its proven absence.
pub fn admit_record_proof(
    rev: &str,
    record: Option<(&Cid, &[u8])>,
    now_micros: u64,
) -> Result<(Tid, InboxChange), Reject> {
    let rev = crate::rev::check_rev(rev, now_micros)?;
    let change = match record {
        Some((cid, block)) => InboxChange::Put(parse_inbox_record(text_cid(cid)?, block)),
        None => InboxChange::Delete,
    };
    Ok((rev, change))
}
