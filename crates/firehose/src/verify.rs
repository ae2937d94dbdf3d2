//! The pure (no IO) checks of a `#commit` and a `#sync`: CAR slice with every block
//! hashed, first root = `commit`, commit block decoded, `did`/`rev` equal to the envelope,
//! signature, ops well-formed, record blocks present, and Sync 1.1 inversion against
//! `prevData` when the commit carries it.

use std::collections::HashSet;

use cid::Cid;
use repo::{CarLimits, CarSlice, PublicKey};

use crate::frame::{Commit, SyncEvent};

/// Why a commit (or `#sync`) was rejected. `label()` is the metrics reason.
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
    /// The CAR's first root is not the commit, or the commit block is missing.
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
    /// Sync 1.1 inversion failed: the diff does not lead back to `prevData`.
    #[error("inversion failed: {0}")]
    Inversion(String),
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
        }
    }
}

/// A commit whose structure checked out, waiting for its signature check.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The CAR slice (blocks hash-checked).
    pub car: CarSlice<'a>,
    /// The decoded signed commit.
    pub signed: repo::Commit,
}

/// How far in the future a `rev` may be (clock skew allowance).
pub const MAX_FUTURE_REV_MICROS: u64 = 5 * 60 * 1_000_000;

fn check_rev_syntax(rev: &str, now_micros: u64) -> Result<(), Reject> {
    let tid = syntax::Tid::parse(rev).map_err(|e| Reject::Syntax(e.to_string()))?;
    let micros = tid.to_u64() >> 10;
    if micros > now_micros.saturating_add(MAX_FUTURE_REV_MICROS) {
        return Err(Reject::FutureRev(rev.to_owned()));
    }
    Ok(())
}

/// Parses the CAR and the commit block and checks them against the envelope.
fn parse_car_commit<'a>(
    blocks: &'a [u8],
    commit_cid: Option<&Cid>,
    did: &str,
    rev: &str,
    limits: &CarLimits,
) -> Result<Parsed<'a>, Reject> {
    let car = CarSlice::parse(blocks, limits).map_err(|e| Reject::Car(e.to_string()))?;
    let root = *car
        .roots()
        .first()
        .ok_or_else(|| Reject::CommitBlock("CAR has no root".into()))?;
    if let Some(c) = commit_cid
        && *c != root
    {
        return Err(Reject::CommitBlock(
            "first CAR root is not the commit".into(),
        ));
    }
    let block = car
        .get(&root)
        .ok_or_else(|| Reject::CommitBlock("commit block not in CAR".into()))?;
    let signed = repo::Commit::decode(block).map_err(|e| Reject::CommitBlock(e.to_string()))?;
    if signed.did != did {
        return Err(Reject::Mismatch(format!("commit did {}", signed.did)));
    }
    if signed.rev != rev {
        return Err(Reject::Mismatch(format!("commit rev {}", signed.rev)));
    }
    Ok(Parsed { car, signed })
}

/// Structure checks of a `#commit` (everything but the signature and inversion).
pub fn parse_commit<'a>(c: &'a Commit, now_micros: u64) -> Result<Parsed<'a>, Reject> {
    syntax::Did::parse(&c.repo).map_err(|e| Reject::Syntax(e.to_string()))?;
    check_rev_syntax(&c.rev, now_micros)?;
    check_ops(c)?;
    let parsed = parse_car_commit(
        &c.blocks,
        Some(&c.commit),
        &c.repo,
        &c.rev,
        &CarLimits::COMMIT,
    )?;
    for op in &c.ops {
        if let Some(cid) = &op.cid
            && parsed.car.get(cid).is_none()
        {
            return Err(Reject::MissingRecord(op.path.clone()));
        }
    }
    Ok(parsed)
}

/// Structure checks of a `#sync` (CAR with only the signed commit).
pub fn parse_sync<'a>(e: &'a SyncEvent, now_micros: u64) -> Result<Parsed<'a>, Reject> {
    syntax::Did::parse(&e.did).map_err(|err| Reject::Syntax(err.to_string()))?;
    check_rev_syntax(&e.rev, now_micros)?;
    let limits = CarLimits {
        max_bytes: 10_000,
        max_blocks: 16,
        max_block_bytes: 10_000,
    };
    parse_car_commit(&e.blocks, None, &e.did, &e.rev, &limits)
}

/// Ops well-formed: create has `cid` and no `prev`; update has `cid` (and `prev` in Sync
/// 1.1); delete has no `cid`; paths are `collection/rkey`; no duplicate paths; ≤ 200.
pub fn check_ops(c: &Commit) -> Result<(), Reject> {
    if c.ops.len() > crate::frame::MAX_COMMIT_OPS {
        return Err(Reject::Ops(format!("{} ops", c.ops.len())));
    }
    let mut seen = HashSet::with_capacity(c.ops.len());
    for op in &c.ops {
        if crate::record::split_path(&op.path).is_none() {
            return Err(Reject::Ops(format!("bad path {:?}", op.path)));
        }
        if !seen.insert(op.path.as_str()) {
            return Err(Reject::Ops(format!("duplicate path {}", op.path)));
        }
        let ok = match op.action.as_str() {
            "create" => op.cid.is_some() && op.prev.is_none(),
            "update" => op.cid.is_some(),
            "delete" => op.cid.is_none(),
            _ => false,
        };
        if !ok {
            return Err(Reject::Ops(format!("bad {} op at {}", op.action, op.path)));
        }
    }
    Ok(())
}

/// Verifies the commit signature with `key` (low-S enforced by `repo`).
pub fn check_signature(signed: &repo::Commit, key: &PublicKey) -> Result<(), Reject> {
    signed.verify(key).map_err(|_| Reject::Signature)
}

/// Sync 1.1 inversion: undo the ops on the partial MST at the commit's `data` and require
/// the root to equal `prevData`. Legacy commits (no `prevData`) are not inverted.
pub fn check_inversion(c: &Commit, parsed: &Parsed<'_>) -> Result<bool, Reject> {
    let Some(prev_data) = c.prev_data else {
        return Ok(false);
    };
    crate::proofs::invert(c, parsed, &prev_data).map_err(Reject::Inversion)?;
    Ok(true)
}
