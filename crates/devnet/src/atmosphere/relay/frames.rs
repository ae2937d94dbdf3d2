//! Turns sequenced [`RelayEvent`]s into wire frames with `wire::frame`'s encoders, so
//! the devnet relay and the consumer share one definition of the format.

use wire::frame::{
    AccountEvent, Commit, ErrorFrame, IdentityEvent, InfoEvent, RepoOp, SyncEvent, encode_account,
    encode_commit, encode_error, encode_identity, encode_info, encode_sync,
};

use super::RelayEvent;
use crate::atmosphere::tid::datetime_now as now;

/// Encodes `event` as the frame with sequence number `seq`.
pub(super) fn encode(seq: i64, event: &RelayEvent) -> Vec<u8> {
    match event {
        RelayEvent::Commit(commit) => encode_commit(&Commit {
            seq,
            repo: commit.repo.clone(),
            rev: commit.rev.clone(),
            since: commit.since.clone(),
            commit: commit.commit,
            blocks: commit.blocks.clone(),
            ops: commit
                .ops
                .iter()
                .map(|op| RepoOp {
                    action: op.action.as_str().to_owned(),
                    path: op.path.clone(),
                    cid: op.cid,
                    prev: op.prev,
                })
                .collect(),
            prev_data: commit.prev_data,
            time: now(),
            blobs: Vec::new(),
            too_big: false,
            rebase: false,
        }),
        RelayEvent::Sync {
            did, rev, blocks, ..
        } => encode_sync(&SyncEvent {
            seq,
            did: did.clone(),
            rev: rev.clone(),
            blocks: blocks.clone(),
            time: now(),
        }),
        RelayEvent::Identity { did, handle } => encode_identity(&IdentityEvent {
            seq,
            did: did.clone(),
            time: now(),
            handle: handle.clone(),
        }),
        RelayEvent::Account {
            did,
            active,
            status,
        } => encode_account(&AccountEvent {
            seq,
            did: did.clone(),
            time: now(),
            active: *active,
            status: status.clone(),
        }),
    }
}

/// An `#info` frame (not persisted, no seq).
pub(super) fn info(name: &str, message: &str) -> Vec<u8> {
    encode_info(&InfoEvent {
        name: name.to_owned(),
        message: Some(message.to_owned()),
    })
}

/// An error frame (`op: -1`); the stream is closed right after it.
pub(super) fn error(name: &str, message: &str) -> Vec<u8> {
    encode_error(&ErrorFrame {
        error: name.to_owned(),
        message: Some(message.to_owned()),
    })
}
