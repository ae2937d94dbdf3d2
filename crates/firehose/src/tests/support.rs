//! Shared test helpers: vector paths, atproto-JSON → wire frames, temp stores.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::gate::{Gate, TrackedSet};
use crate::process::{Processor, ProcessorConfig, Shared};
use sync::{IdentitySource, StaticAccount, StaticIdentity};
use testkit::atproto::{Write, inbox_record};

/// `<workspace>/testdata/<rel>`; panics loudly when missing.
pub fn vector(rel: &str) -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(rel);
    assert!(
        p.exists(),
        "test vector missing: {} (expected in <workspace>/testdata)",
        p.display()
    );
    p
}

pub fn json(rel: &str) -> Value {
    let s = std::fs::read_to_string(vector(rel)).unwrap();
    serde_json::from_str(&s).unwrap()
}

/// Encodes an atproto-JSON value (`$link`, `$bytes`) as canonical DAG-CBOR.
pub fn dagcbor(v: &Value) -> Vec<u8> {
    repo::cbor::json_to_cbor(v).unwrap()
}

/// Wire bytes of a scenario `frame` (`{header, body}`).
pub fn wire(frame: &Value) -> Vec<u8> {
    let mut out = dagcbor(&frame["header"]);
    out.extend(dagcbor(&frame["body"]));
    out
}

/// A fresh store in a temp dir (the dir must outlive the store).
pub fn temp_store() -> (tempfile::TempDir, store::Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = store::Store::open(&dir.path().join("index.sqlite")).unwrap();
    (dir, s)
}

/// Identity map from a scenario's `accounts`.
/// Pipeline dependencies over `store` and `identity`, fetching from loopback servers.
pub fn deps(store: &store::Store, identity: Arc<dyn IdentitySource>) -> crate::FirehoseDeps {
    crate::FirehoseDeps {
        writer: store.writer(),
        reader: store.reader(),
        identity,
        fetcher: Arc::new(
            sync::HttpRecordFetcher::new("test")
                .unwrap()
                .allow_private_network(true),
        ),
    }
}

pub fn scenario_identity(v: &Value) -> Arc<StaticIdentity> {
    let ident = StaticIdentity::new();
    for a in v["accounts"].as_array().unwrap() {
        let id = &a["identity"];
        let key = repo::PublicKey::from_multibase(
            id["keys"]["atproto"]["publicKeyMultibase"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        ident.insert(
            id["did"].as_str().unwrap(),
            StaticAccount {
                key,
                pds: id["services"]["atproto_pds"]["url"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                handle: id["handle"].as_str().map(str::to_owned),
            },
        );
    }
    Arc::new(ident)
}

/// [`stages`] with the production key timeout (250 ms), not audit mode.
pub fn stages_with_key_timeout(
    store: &store::Store,
    identity: Arc<dyn IdentitySource>,
) -> (Gate, Processor, mpsc::Receiver<String>, TrackedSet) {
    stages_with(
        store,
        identity,
        false,
        crate::FirehoseConfig::default().key_timeout,
    )
}

/// A gate + processor pair over `store`, as the pipeline builds them; the receiver gets
/// the handle refreshes the processor asks for.
pub fn stages(
    store: &store::Store,
    identity: Arc<dyn IdentitySource>,
    verify_all: bool,
) -> (Gate, Processor, mpsc::Receiver<String>, TrackedSet) {
    stages_with(
        store,
        identity,
        verify_all,
        std::time::Duration::from_secs(5),
    )
}

/// [`stages`] as the pipeline builds them after a restart: the tracked DIDs are those the
/// index holds (the filter streamed from it, the index probed behind it).
pub async fn stages_restarted(
    store: &store::Store,
    identity: Arc<dyn IdentitySource>,
) -> (Gate, Processor, mpsc::Receiver<String>, TrackedSet) {
    let tracked = TrackedSet::load(&store.reader()).await.unwrap();
    stages_over(
        store,
        identity,
        false,
        std::time::Duration::from_secs(5),
        tracked,
    )
}

fn stages_with(
    store: &store::Store,
    identity: Arc<dyn IdentitySource>,
    verify_all: bool,
    key_timeout: std::time::Duration,
) -> (Gate, Processor, mpsc::Receiver<String>, TrackedSet) {
    stages_over(store, identity, verify_all, key_timeout, TrackedSet::new())
}

fn stages_over(
    store: &store::Store,
    identity: Arc<dyn IdentitySource>,
    verify_all: bool,
    key_timeout: std::time::Duration,
    tracked: TrackedSet,
) -> (Gate, Processor, mpsc::Receiver<String>, TrackedSet) {
    let (tx, rx) = mpsc::channel(100);
    let shared = Shared {
        tracked: tracked.clone(),
        ..Shared::default()
    };
    let cfg = ProcessorConfig {
        verify_all,
        key_timeout,
        verify_workers: 0,
    };
    let p = Processor::new(cfg, identity, store.reader(), shared, tx);
    (Gate::new(tracked.clone(), verify_all, None), p, rx, tracked)
}

/// A change that indexes a (pending) link for `did`.
pub fn put_link(did: &str) -> store::Change {
    store::Change::PutRecord {
        did: testkit::ids::did(did),
        rev: None,
        record: store::RecordInput {
            cid: testkit::ids::cid("put_link"),
            inbox_id: "a".repeat(64),
            verification_signature: "AAECAwQFBgc=".into(),
            created_at: "2026-07-04T12:00:00.000Z".into(),
            malformed: None,
        },
    }
}

/// xorshift64*: deterministic, dependency-free.
pub struct Rng(pub u64);

impl Rng {
    /// The next pseudo-random value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A value below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Writes `org.xmtp.inbox/self` naming `id`.
pub fn put_inbox(id: &str) -> Write {
    Write::Put(
        "org.xmtp.inbox/self".into(),
        inbox_record(id, "AAECAwQFBgc=", "2026-07-04T12:00:00.000Z"),
    )
}

/// Writes a like record (`n` picks its rkey).
pub fn like(n: u32) -> Write {
    let rec = repo::cbor::json_to_cbor(
        &serde_json::json!({"$type": "app.bsky.feed.like", "createdAt": "2026-07-04T12:00:00Z"}),
    )
    .unwrap();
    Write::Put(format!("app.bsky.feed.like/3laaaaaaaaa{n:02}"), rec)
}

/// Passes one `#commit` through the gate and the processor; panics if the gate drops it.
pub async fn feed(
    gate: &mut Gate,
    p: &mut Processor,
    c: crate::frame::Commit,
) -> crate::process::Outcome {
    let bytes = bytes::Bytes::from(crate::frame::Frame::Commit(c).encode());
    match gate.on_message(bytes) {
        crate::gate::Verdict::Forward(item) => p.process(item).await,
        other => panic!("gate did not forward: {other:?}"),
    }
}
