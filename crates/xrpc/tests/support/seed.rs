//! A seeded index for the integration tests: one account per situation the methods answer.

#![allow(dead_code)]

use store::{Batch, Change, RecordInput, Status, Store};

/// `did:plc:` + a fixed-width name, so tests read clearly.
pub fn did(name: &str) -> String {
    format!("did:plc:{name}")
}

/// The typed DID of `did(name)`.
pub fn typed(name: &str) -> syntax::Did {
    testkit::ids::did(&did(name))
}

/// A distinct inbox ID per number.
pub fn inbox(n: u32) -> String {
    format!("{n:064x}")
}

/// A PutRecord change; `cid` names a real CID ([`testkit::ids::cid`]).
pub fn put(did: &str, cid: &str, inbox_id: &str) -> Change {
    Change::PutRecord {
        did: testkit::ids::did(did),
        rev: None,
        record: RecordInput {
            cid: testkit::ids::cid(cid),
            inbox_id: inbox_id.to_owned(),
            verification_signature: "c2ln".to_owned(),
            created_at: "2026-01-01T00:00:00.000Z".to_owned(),
            malformed: None,
        },
    }
}

/// A Verdict change; `cid` as for [`put`].
pub fn verdict(did: &str, cid: &str, status: Status) -> Change {
    Change::Verdict {
        did: testkit::ids::did(did),
        record_cid: testkit::ids::cid(cid),
        status,
        reason: (status == Status::Invalid).then(|| "signature does not verify".to_owned()),
        installation_key: (status == Status::Verified).then(|| "ab".repeat(32)),
    }
}

/// Seeds:
/// - `alice` verified, handle `alice.test`, inbox 1 (shared with `carol`);
/// - `carol` verified, inbox 1;
/// - `pat` pending, handle `pat.test`, inbox 2;
/// - `ivan` invalid, inbox 3;
/// - `hank` verified but taken down, handle `hank.test`, inbox 4;
/// - `nolan` a known account with handle `nolan.test` and no record.
pub async fn seed(store: &Store) {
    let changes = vec![
        put(&did("alice"), "bafyalice", &inbox(1)),
        verdict(&did("alice"), "bafyalice", Status::Verified),
        Change::Handle {
            did: typed("alice"),
            handle: Some(testkit::ids::handle("alice.test")),
        },
        put(&did("carol"), "bafycarol", &inbox(1)),
        verdict(&did("carol"), "bafycarol", Status::Verified),
        put(&did("pat"), "bafypat", &inbox(2)),
        Change::Handle {
            did: typed("pat"),
            handle: Some(testkit::ids::handle("pat.test")),
        },
        put(&did("ivan"), "bafyivan", &inbox(3)),
        verdict(&did("ivan"), "bafyivan", Status::Invalid),
        put(&did("hank"), "bafyhank", &inbox(4)),
        verdict(&did("hank"), "bafyhank", Status::Verified),
        Change::Handle {
            did: typed("hank"),
            handle: Some(testkit::ids::handle("hank.test")),
        },
        Change::AccountStatus {
            did: typed("hank"),
            active: false,
            status: Some("takendown".into()),
        },
        Change::AccountStatus {
            did: typed("nolan"),
            active: true,
            status: None,
        },
        Change::Handle {
            did: typed("nolan"),
            handle: Some(testkit::ids::handle("nolan.test")),
        },
    ];
    store
        .writer()
        .apply(Batch {
            changes,
            cursor: Some(1234),
            stats: store::StatsDelta {
                frames: 10,
                commits_verified: 5,
                commits_rejected: 1,
            },
        })
        .await
        .unwrap_or_else(|e| panic!("seeding failed: {e}"));
}
