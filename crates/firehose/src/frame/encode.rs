//! Canonical DAG-CBOR encoders for `subscribeRepos` frames (used by the devnet relay and
//! the benchmarks). Keys are written in canonical order: by byte length, then bytewise.

use cid::Cid;

use super::{
    AccountEvent, Commit, ErrorFrame, Frame, HandleEvent, IdentityEvent, InfoEvent, MigrateEvent,
    RepoOp, SyncEvent, TombstoneEvent,
};
use crate::cbor::Writer;

fn header(w: &mut Writer, t: &str) {
    w.map(2).str("t").str(t).str("op").int(1);
}

fn cid(w: &mut Writer, c: &Cid) {
    w.cid_bytes(&c.to_bytes());
}

fn op(w: &mut Writer, o: &RepoOp) {
    // cid, path, prev, action
    w.map(if o.prev.is_some() { 4 } else { 3 });
    w.str("cid");
    match &o.cid {
        Some(c) => cid(w, c),
        None => {
            w.null();
        }
    }
    w.str("path").str(&o.path);
    if let Some(p) = &o.prev {
        w.str("prev");
        cid(w, p);
    }
    w.str("action").str(&o.action);
}

/// Encodes a `#commit` frame (header + 12-key body; `prevData` omitted when `None`).
pub fn encode_commit(c: &Commit) -> Vec<u8> {
    let mut w = Writer::with_capacity(c.blocks.len() + 256 + c.ops.len() * 96);
    header(&mut w, "#commit");
    // ops, rev, seq, repo, time, blobs, since, blocks, commit, rebase, tooBig, prevData
    w.map(if c.prev_data.is_some() { 12 } else { 11 });
    w.str("ops").array(c.ops.len() as u64);
    for o in &c.ops {
        op(&mut w, o);
    }
    w.str("rev").str(&c.rev);
    w.str("seq").int(c.seq);
    w.str("repo").str(&c.repo);
    w.str("time").str(&c.time);
    w.str("blobs").array(c.blobs.len() as u64);
    for b in &c.blobs {
        cid(&mut w, b);
    }
    w.str("since").opt_str(c.since.as_deref());
    w.str("blocks").bytes(&c.blocks);
    w.str("commit");
    cid(&mut w, &c.commit);
    w.str("rebase").bool(c.rebase);
    w.str("tooBig").bool(c.too_big);
    if let Some(p) = &c.prev_data {
        w.str("prevData");
        cid(&mut w, p);
    }
    w.out
}

/// Encodes a `#sync` frame.
pub fn encode_sync(e: &SyncEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(e.blocks.len() + 160);
    header(&mut w, "#sync");
    w.map(5);
    w.str("did").str(&e.did);
    w.str("rev").str(&e.rev);
    w.str("seq").int(e.seq);
    w.str("time").str(&e.time);
    w.str("blocks").bytes(&e.blocks);
    w.out
}

/// Encodes an `#identity` frame (`handle` omitted when `None`).
pub fn encode_identity(e: &IdentityEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(160);
    header(&mut w, "#identity");
    w.map(if e.handle.is_some() { 4 } else { 3 });
    w.str("did").str(&e.did);
    w.str("seq").int(e.seq);
    w.str("time").str(&e.time);
    if let Some(h) = &e.handle {
        w.str("handle").str(h);
    }
    w.out
}

/// Encodes an `#account` frame (`status` omitted when `None`).
pub fn encode_account(e: &AccountEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(160);
    header(&mut w, "#account");
    w.map(if e.status.is_some() { 5 } else { 4 });
    w.str("did").str(&e.did);
    w.str("seq").int(e.seq);
    w.str("time").str(&e.time);
    w.str("active").bool(e.active);
    if let Some(s) = &e.status {
        w.str("status").str(s);
    }
    w.out
}

/// Encodes an `#info` frame (`message` omitted when `None`).
pub fn encode_info(e: &InfoEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(96);
    header(&mut w, "#info");
    w.map(if e.message.is_some() { 2 } else { 1 });
    w.str("name").str(&e.name);
    if let Some(m) = &e.message {
        w.str("message").str(m);
    }
    w.out
}

/// Encodes an error frame: header `{op: -1}`, body `{error, message?}`.
pub fn encode_error(e: &ErrorFrame) -> Vec<u8> {
    let mut w = Writer::with_capacity(96);
    w.map(1).str("op").int(-1);
    w.map(if e.message.is_some() { 2 } else { 1 });
    w.str("error").str(&e.error);
    if let Some(m) = &e.message {
        w.str("message").str(m);
    }
    w.out
}

fn encode_handle(e: &HandleEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(160);
    header(&mut w, "#handle");
    w.map(4);
    w.str("did").str(&e.did);
    w.str("seq").int(e.seq);
    w.str("time").str(&e.time);
    w.str("handle").str(&e.handle);
    w.out
}

fn encode_migrate(e: &MigrateEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(160);
    header(&mut w, "#migrate");
    w.map(4);
    w.str("did").str(&e.did);
    w.str("seq").int(e.seq);
    w.str("time").str(&e.time);
    w.str("migrateTo").opt_str(e.migrate_to.as_deref());
    w.out
}

fn encode_tombstone(e: &TombstoneEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(128);
    header(&mut w, "#tombstone");
    w.map(3);
    w.str("did").str(&e.did);
    w.str("seq").int(e.seq);
    w.str("time").str(&e.time);
    w.out
}

pub(super) fn encode_frame(f: &Frame) -> Vec<u8> {
    match f {
        Frame::Commit(c) => encode_commit(c),
        Frame::Sync(e) => encode_sync(e),
        Frame::Identity(e) => encode_identity(e),
        Frame::Account(e) => encode_account(e),
        Frame::Info(e) => encode_info(e),
        Frame::Handle(e) => encode_handle(e),
        Frame::Migrate(e) => encode_migrate(e),
        Frame::Tombstone(e) => encode_tombstone(e),
        Frame::Error(e) => encode_error(e),
        Frame::Unknown { op, t } => {
            let mut w = Writer::with_capacity(32);
            match t {
                Some(t) => {
                    w.map(2).str("t").str(t).str("op").int(*op);
                }
                None => {
                    w.map(1).str("op").int(*op);
                }
            }
            w.map(0);
            w.out
        }
    }
}
