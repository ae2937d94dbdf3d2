//! The structural checks of a `#commit` and a `#sync` before their signature: identifiers,
//! the one rev rule ([`crate::rev`]), well-formed ops, and the CAR (every block hashed, first
//! root = the commit, commit `did`/`rev` equal to the envelope). The signature and the proofs
//! of the ops against the signed root come after, in [`crate::admit`].
//!
//! Everything in an [`Envelope`] except `blocks` is unsigned: a relay can rewrite `ops`,
//! `prevData`, `since` and add blocks at will. Nothing here trusts those fields; it only
//! refuses the ones that are malformed.

use std::collections::HashSet;

use cid::Cid;
use repo::{CommitCar, CommitError, Op, OpAction, PublicKey};

use crate::record::split_path;

/// Most ops a commit may carry (the relay's limit).
pub const MAX_COMMIT_OPS: usize = 200;

/// One op of a `#commit` envelope, borrowed from the frame (unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeOp<'a> {
    /// `create`, `update` or `delete`.
    pub action: &'a str,
    /// `collection/rkey`.
    pub path: &'a str,
    /// New record CID (create/update).
    pub cid: Option<Cid>,
    /// Previous record CID (Sync 1.1 update/delete).
    pub prev: Option<Cid>,
}

/// The fields of a `#commit` the checks read, borrowed from the frame.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The account DID (`repo`).
    pub did: &'a str,
    /// The commit's rev.
    pub rev: &'a str,
    /// The rev this diff claims to follow (unsigned).
    pub since: Option<&'a str>,
    /// The commit block's CID (first CAR root).
    pub commit: Cid,
    /// The previous MST root (Sync 1.1; unsigned).
    pub prev_data: Option<Cid>,
    /// The CAR slice.
    pub blocks: &'a [u8],
    /// The ops (unsigned).
    pub ops: Vec<EnvelopeOp<'a>>,
}

/// Why a commit (or `#sync`) was not used. `label()` is the metrics reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// DID, rev or path syntax.
    #[error("bad syntax: {0}")]
    Syntax(String),
    /// `rev` is a TID too far in the future.
    #[error("rev {0} is in the future")]
    FutureRev(String),
    /// The CAR slice could not be read or a block did not hash to its CID.
    #[error("bad CAR: {0}")]
    Car(String),
    /// The CAR's first root is not the commit, or the commit block is missing or bad.
    #[error("commit block: {0}")]
    CommitBlock(String),
    /// The commit's `did` or `rev` differ from the envelope.
    #[error("commit does not match envelope: {0}")]
    Mismatch(String),
    /// No usable signing key could be found (not a verdict on the commit).
    #[error("signing key unavailable: {0}")]
    NoKey(String),
    /// The signature does not verify with the current key (after one refresh).
    #[error("bad signature")]
    Signature,
    /// Ops are malformed (action/cid/prev combination, duplicate paths, too many).
    #[error("bad ops: {0}")]
    Ops(String),
    /// A created/updated record's block is not in the CAR.
    #[error("record block missing for {0}")]
    MissingRecord(String),
    /// Sync 1.1 inversion failed: the diff does not lead back to `prevData`, or an op
    /// disagrees with the signed tree.
    #[error("inversion failed: {0}")]
    Inversion(String),
    /// An `org.xmtp.inbox` op is not proven by an MST path from the signed `data` root
    /// (a commit without `prevData` whose CAR lacks the path, or whose tree disagrees).
    #[error("op not proven by the signed tree: {0}")]
    Unproven(String),
}

impl Reject {
    /// Short stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Syntax(_) => "syntax",
            Self::FutureRev(_) => "future_rev",
            Self::Car(_) => "car",
            Self::CommitBlock(_) => "commit_block",
            Self::Mismatch(_) => "mismatch",
            Self::NoKey(_) => "no_key",
            Self::Signature => "signature",
            Self::Ops(_) => "ops",
            Self::MissingRecord(_) => "missing_record",
            Self::Inversion(_) => "inversion",
            Self::Unproven(_) => "unproven",
        }
    }
}

/// Maps the repo crate's commit errors onto [`Reject`].
fn reject_of(e: CommitError) -> Reject {
    match e {
        CommitError::Car(_) => Reject::Car(e.to_string()),
        CommitError::NoRoot | CommitError::RootMismatch { .. } => {
            Reject::CommitBlock(e.to_string())
        }
        CommitError::MissingCommitBlock | CommitError::Decode(_) => {
            Reject::CommitBlock(e.to_string())
        }
        CommitError::DidMismatch(_) | CommitError::RevMismatch(_) => {
            Reject::Mismatch(e.to_string())
        }
        CommitError::Signature(_) => Reject::Signature,
        CommitError::Ops(_) | CommitError::PrevDataMismatch { .. } => {
            Reject::Inversion(e.to_string())
        }
    }
}

/// A commit whose structure checked out, waiting for its signature.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// The repo's DID, parsed from the envelope.
    pub did: syntax::Did,
    /// The commit's rev, parsed and within the future bound.
    pub rev: syntax::Tid,
    /// The CAR and the decoded commit (blocks hash-checked, signature not yet).
    pub car: CommitCar<'a>,
    /// The ops, typed.
    pub ops: Vec<Op<'a>>,
}

impl Parsed<'_> {
    /// The signed commit (its signature not yet checked).
    pub fn signed(&self) -> &repo::Commit {
        &self.car.commit
    }
}

/// Structure checks of a `#commit` (everything but the signature and the proofs).
pub fn parse_commit<'a>(env: &Envelope<'a>, now_micros: u64) -> Result<Parsed<'a>, Reject> {
    let did = syntax::Did::parse(env.did).map_err(|e| Reject::Syntax(e.to_string()))?;
    let rev = crate::rev::check_rev(env.rev, now_micros)?;
    let ops = check_ops(&env.ops)?;
    let car = CommitCar::parse(env.blocks, &env.commit, env.did, env.rev).map_err(reject_of)?;
    for op in &ops {
        if let Some(cid) = &op.cid
            && car_block(&car, cid).is_none()
        {
            return Err(Reject::MissingRecord(op.path.to_owned()));
        }
    }
    Ok(Parsed { did, rev, car, ops })
}

fn car_block<'a>(car: &CommitCar<'a>, cid: &Cid) -> Option<&'a [u8]> {
    car.block(cid)
}

/// A `#sync` whose structure checked out, waiting for its signature.
#[derive(Debug, Clone)]
pub struct ParsedSync<'a> {
    /// The repo's DID, parsed.
    pub did: syntax::Did,
    /// The rev, parsed and within the future bound.
    pub rev: syntax::Tid,
    /// The CAR with only the signed commit.
    pub car: CommitCar<'a>,
}

/// Structure checks of a `#sync` (CAR with only the signed commit).
pub fn parse_sync<'a>(
    did: &str,
    rev: &str,
    blocks: &'a [u8],
    now_micros: u64,
) -> Result<ParsedSync<'a>, Reject> {
    let typed = syntax::Did::parse(did).map_err(|err| Reject::Syntax(err.to_string()))?;
    let tid = crate::rev::check_rev(rev, now_micros)?;
    let car = CommitCar::parse_sync(blocks, did, rev).map_err(reject_of)?;
    Ok(ParsedSync {
        did: typed,
        rev: tid,
        car,
    })
}

/// Ops well-formed: create has `cid` and no `prev`; update has `cid`; delete has no `cid`;
/// paths are `collection/rkey`; no duplicate paths; at most [`MAX_COMMIT_OPS`].
pub fn check_ops<'a>(ops: &[EnvelopeOp<'a>]) -> Result<Vec<Op<'a>>, Reject> {
    if ops.len() > MAX_COMMIT_OPS {
        return Err(Reject::Ops(format!("{} ops", ops.len())));
    }
    let mut seen = HashSet::with_capacity(ops.len());
    let mut typed = Vec::with_capacity(ops.len());
    for op in ops {
        if split_path(op.path).is_none() {
            return Err(Reject::Ops(format!("bad path {:?}", op.path)));
        }
        if !seen.insert(op.path) {
            return Err(Reject::Ops(format!("duplicate path {}", op.path)));
        }
        let action = OpAction::parse(op.action)
            .ok_or_else(|| Reject::Ops(format!("bad action {} at {}", op.action, op.path)))?;
        let ok = match action {
            OpAction::Create => op.cid.is_some() && op.prev.is_none(),
            OpAction::Update => op.cid.is_some(),
            OpAction::Delete => op.cid.is_none(),
        };
        if !ok {
            return Err(Reject::Ops(format!("bad {} op at {}", op.action, op.path)));
        }
        typed.push(Op {
            action,
            path: op.path,
            cid: op.cid,
            prev: op.prev,
        });
    }
    Ok(typed)
}

/// Verifies the commit signature with `key` (low-S enforced by `repo`).
pub fn check_signature(car: &CommitCar<'_>, key: &PublicKey) -> Result<(), Reject> {
    car.verify_signature(key).map_err(|_| Reject::Signature)
}

/// The repo crate's error for a failed op proof, as a [`Reject`].
pub(crate) fn proof_reject(e: CommitError, inverting: bool) -> Reject {
    if inverting {
        reject_of(e)
    } else {
        Reject::Unproven(e.to_string())
    }
}
