//! Canonical DAG-CBOR encoders for `subscribeRepos` frames (used by the devnet relay and
//! the benchmarks). Keys are written in canonical order: by byte length, then bytewise.

use super::{
    AccountEvent, Commit, ErrorFrame, Frame, HandleEvent, IdentityEvent, InfoEvent, MigrateEvent,
    RepoOp, SyncEvent, TombstoneEvent,
};
use repo::cbor::Encoder;

fn header(w: &mut Encoder, t: &str) {
    w.map(2).text("t").text(t).text("op").int(1);
}

fn op(w: &mut Encoder, o: &RepoOp) {
    // cid, path, prev, action
    w.map(if o.prev.is_some() { 4 } else { 3 });
    w.text("cid");
    match &o.cid {
        Some(c) => {
            w.link(c);
        }
        None => {
            w.null();
        }
    }
    w.text("path").text(&o.path);
    if let Some(p) = &o.prev {
        w.text("prev");
        w.link(p);
    }
    w.text("action").text(&o.action);
}

/// Encodes a `#commit` frame (header + 12-key body; `prevData` omitted when `None`).
pub fn encode_commit(c: &Commit) -> Vec<u8> {
    let mut w = Encoder::with_capacity(c.blocks.len() + 256 + c.ops.len() * 96);
    header(&mut w, "#commit");
    // ops, rev, seq, repo, time, blobs, since, blocks, commit, rebase, tooBig, prevData
    w.map(if c.prev_data.is_some() { 12 } else { 11 });
    w.text("ops").array(c.ops.len());
    for o in &c.ops {
        op(&mut w, o);
    }
    w.text("rev").text(&c.rev);
    w.text("seq").int(c.seq);
    w.text("repo").text(&c.repo);
    w.text("time").text(&c.time);
    w.text("blobs").array(c.blobs.len());
    for b in &c.blobs {
        w.link(b);
    }
    w.text("since").opt_text(c.since.as_deref());
    w.text("blocks").bytes(&c.blocks);
    w.text("commit");
    w.link(&c.commit);
    w.text("rebase").bool(c.rebase);
    w.text("tooBig").bool(c.too_big);
    if let Some(p) = &c.prev_data {
        w.text("prevData");
        w.link(p);
    }
    w.into_bytes()
}

/// Encodes a `#sync` frame.
pub fn encode_sync(e: &SyncEvent) -> Vec<u8> {
    let mut w = Encoder::with_capacity(e.blocks.len() + 160);
    header(&mut w, "#sync");
    w.map(5);
    w.text("did").text(&e.did);
    w.text("rev").text(&e.rev);
    w.text("seq").int(e.seq);
    w.text("time").text(&e.time);
    w.text("blocks").bytes(&e.blocks);
    w.into_bytes()
}

/// Encodes an `#identity` frame (`handle` omitted when `None`).
pub fn encode_identity(e: &IdentityEvent) -> Vec<u8> {
    let mut w = Encoder::with_capacity(160);
    header(&mut w, "#identity");
    w.map(if e.handle.is_some() { 4 } else { 3 });
    w.text("did").text(&e.did);
    w.text("seq").int(e.seq);
    w.text("time").text(&e.time);
    if let Some(h) = &e.handle {
        w.text("handle").text(h);
    }
    w.into_bytes()
}

/// Encodes an `#account` frame (`status` omitted when `None`).
pub fn encode_account(e: &AccountEvent) -> Vec<u8> {
    let mut w = Encoder::with_capacity(160);
    header(&mut w, "#account");
    w.map(if e.status.is_some() { 5 } else { 4 });
    w.text("did").text(&e.did);
    w.text("seq").int(e.seq);
    w.text("time").text(&e.time);
    w.text("active").bool(e.active);
    if let Some(s) = &e.status {
        w.text("status").text(s);
    }
    w.into_bytes()
}

/// Encodes an `#info` frame (`message` omitted when `None`).
pub fn encode_info(e: &InfoEvent) -> Vec<u8> {
    let mut w = Encoder::with_capacity(96);
    header(&mut w, "#info");
    w.map(if e.message.is_some() { 2 } else { 1 });
    w.text("name").text(&e.name);
    if let Some(m) = &e.message {
        w.text("message").text(m);
    }
    w.into_bytes()
}

/// Encodes an error frame: header `{op: -1}`, body `{error, message?}`.
pub fn encode_error(e: &ErrorFrame) -> Vec<u8> {
    let mut w = Encoder::with_capacity(96);
    w.map(1).text("op").int(-1);
    w.map(if e.message.is_some() { 2 } else { 1 });
    w.text("error").text(&e.error);
    if let Some(m) = &e.message {
        w.text("message").text(m);
    }
    w.into_bytes()
}

fn encode_handle(e: &HandleEvent) -> Vec<u8> {
    let mut w = Encoder::with_capacity(160);
    header(&mut w, "#handle");
    w.map(4);
    w.text("did").text(&e.did);
    w.text("seq").int(e.seq);
    w.text("time").text(&e.time);
    w.text("handle").text(&e.handle);
    w.into_bytes()
}

fn encode_migrate(e: &MigrateEvent) -> Vec<u8> {
    let mut w = Encoder::with_capacity(160);
    header(&mut w, "#migrate");
    w.map(4);
    w.text("did").text(&e.did);
    w.text("seq").int(e.seq);
    w.text("time").text(&e.time);
    w.text("migrateTo").opt_text(e.migrate_to.as_deref());
    w.into_bytes()
}

fn encode_tombstone(e: &TombstoneEvent) -> Vec<u8> {
    let mut w = Encoder::with_capacity(128);
    header(&mut w, "#tombstone");
    w.map(3);
    w.text("did").text(&e.did);
    w.text("seq").int(e.seq);
    w.text("time").text(&e.time);
    w.into_bytes()
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
            let mut w = Encoder::with_capacity(32);
            match t {
                Some(t) => {
                    w.map(2).text("t").text(t).text("op").int(*op);
                }
                None => {
                    w.map(1).text("op").int(*op);
                }
            }
            w.map(0);
            w.into_bytes()
        }
    }
}
