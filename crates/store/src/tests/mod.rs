//! Unit tests of the store on fresh temporary databases: every `Change` variant
//! (`changes.rs`) and every `Reader` method (`reads.rs`); the helpers live here.

use crate::*;
pub(super) use testkit::ids::cid;

mod bad_rows;
mod bounded;
mod bulk;
mod changes;
mod compact;
mod events;
mod handles;
mod no_in_lists;
mod reads;
mod tracked;

pub(super) fn inbox(n: u32) -> String {
    format!("{n:064x}")
}

pub(super) fn did(n: u32) -> syntax::Did {
    d(&format!("did:plc:{n:08}"))
}

/// The rev `s` (a TID as text), typed.
pub(super) fn rev(s: &str) -> syntax::Tid {
    syntax::Tid::parse(s).unwrap()
}

/// The DID `s`, typed (tests name DIDs as text).
pub(super) fn d(s: &str) -> syntax::Did {
    testkit::ids::did(s)
}

/// A record whose CID is the real CID named by `cid` ([`testkit::ids::cid`]).
pub(super) fn record(cid: &str, inbox_id: &str) -> RecordInput {
    RecordInput {
        cid: testkit::ids::cid(cid),
        inbox_id: inbox_id.to_owned(),
        verification_signature: "c2lnbmF0dXJl".to_owned(),
        created_at: "2026-01-01T00:00:00.000Z".to_owned(),
        malformed: None,
    }
}

/// `rev`: a TID as text.
pub(super) fn put(did: &str, cid: &str, inbox_id: &str, rev: Option<&str>) -> Change {
    Change::PutRecord {
        did: d(did),
        rev: rev.map(self::rev),
        record: record(cid, inbox_id),
    }
}

pub(super) fn verdict(did: &str, cid: &str, status: Status) -> Change {
    Change::Verdict {
        did: d(did),
        record_cid: testkit::ids::cid(cid),
        status,
        reason: (status == Status::Invalid).then(|| "bad signature".to_owned()),
        installation_key: (status == Status::Verified).then(|| "ab".repeat(32)),
    }
}

pub(super) fn account(did: &str, active: bool, status: Option<&str>) -> Change {
    Change::AccountStatus {
        did: d(did),
        active,
        status: status.map(str::to_owned),
    }
}

pub(super) fn handle(did: &str, h: Option<&str>) -> Change {
    Change::Handle {
        did: d(did),
        handle: h.map(testkit::ids::handle),
    }
}

pub(super) struct Db {
    _dir: tempfile::TempDir,
    pub(super) store: Store,
}

impl Db {
    pub(super) fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("index.sqlite")).unwrap();
        Db { _dir: dir, store }
    }

    pub(super) async fn apply(&self, changes: Vec<Change>) {
        self.store.writer().apply(Batch::of(changes)).await.unwrap();
    }

    pub(super) fn r(&self) -> Reader {
        self.store.reader()
    }

    pub(super) async fn status_of(&self, did: &str) -> Option<Status> {
        self.r().link_by_did(did).await.unwrap().map(|l| l.status)
    }
}
