//! Sync 1.1 operation inversion: check each op against the new tree, undo the ops, and
//! return the resulting root (which the caller compares with `prevData`).

use cid::Cid;

use super::{MstError, PartialMst};

/// A `#commit` op action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpAction {
    /// New record (`cid` set, no `prev`).
    Create,
    /// Changed record (`cid` and `prev` set).
    Update,
    /// Removed record (`cid` null, `prev` set).
    Delete,
}

impl OpAction {
    /// Parses `create` / `update` / `delete`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "create" => Some(OpAction::Create),
            "update" => Some(OpAction::Update),
            "delete" => Some(OpAction::Delete),
            _ => None,
        }
    }

    /// The lexicon string: `create` / `update` / `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpAction::Create => "create",
            OpAction::Update => "update",
            OpAction::Delete => "delete",
        }
    }
}

/// One repo operation of a commit, borrowing the path from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op<'a> {
    /// Action.
    pub action: OpAction,
    /// `collection/rkey`.
    pub path: &'a str,
    /// New record CID (create/update).
    pub cid: Option<Cid>,
    /// Previous record CID (update/delete; absent in pre-1.1 commits).
    pub prev: Option<Cid>,
}

/// Why a commit's ops could not be inverted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvertError {
    /// An update or delete without `prev` (a pre-Sync-1.1 commit): not invertible.
    #[error("op on {0} has no prev (legacy commit)")]
    MissingPrev(String),
    /// Fields inconsistent with the action (create with prev, delete with cid, ...).
    #[error("malformed op on {0}")]
    MalformedOp(String),
    /// Two ops on the same path.
    #[error("duplicate op path {0}")]
    DuplicatePath(String),
    /// The new tree's value at the path differs from the op (or a deleted key is present).
    #[error("op on {0} does not match the MST")]
    Mismatch(String),
    /// Tree error: a missing node means the diff is incomplete.
    #[error(transparent)]
    Mst(#[from] MstError),
}

/// Checks every op against `tree` (the MST at the commit's `data`), undoes them, and returns
/// the resulting root CID, which must equal the message's `prevData`.
pub fn invert_ops(tree: &mut PartialMst<'_>, ops: &[Op<'_>]) -> Result<Cid, InvertError> {
    let mut paths: Vec<&str> = ops.iter().map(|o| o.path).collect();
    paths.sort_unstable();
    if let Some(w) = paths.windows(2).find(|w| w[0] == w[1]) {
        return Err(InvertError::DuplicatePath(w[0].to_string()));
    }
    for op in ops {
        let bad = || InvertError::MalformedOp(op.path.to_string());
        match op.action {
            OpAction::Create if op.cid.is_none() || op.prev.is_some() => return Err(bad()),
            OpAction::Update | OpAction::Delete if op.prev.is_none() => {
                return Err(InvertError::MissingPrev(op.path.to_string()));
            }
            OpAction::Update if op.cid.is_none() => return Err(bad()),
            OpAction::Delete if op.cid.is_some() => return Err(bad()),
            _ => {}
        }
        // The value at the path in the new tree must be exactly what the op claims.
        if tree.get(op.path)? != op.cid {
            return Err(InvertError::Mismatch(op.path.to_string()));
        }
    }
    for op in ops {
        match (op.action, op.prev) {
            (OpAction::Create, _) => {
                tree.delete(op.path)?;
            }
            (OpAction::Update | OpAction::Delete, Some(prev)) => {
                tree.insert(op.path, prev)?;
            }
            (_, None) => return Err(InvertError::MissingPrev(op.path.to_string())),
        }
    }
    Ok(tree.root())
}
