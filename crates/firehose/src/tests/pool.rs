//! The verification pool: checks run ahead, concurrent across DIDs (a slow key lookup
//! holds only its lane), and results are applied strictly in stream order, so a DID's
//! chain is continued commit by commit even when all its commits were checked ahead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::support::*;
use crate::gate::{Gate, Item, TrackedSet, Verdict};
use crate::process::{Outcome, Prepared, Processor, ProcessorConfig, Shared};
use sync::{BoxFuture, IdentitySource, LookupError, StaticAccount, StaticIdentity};
use testkit::atproto::SynthRepo;

/// Every key lookup takes `delay`.
struct SlowKeys {
    inner: StaticIdentity,
    delay: Duration,
}

impl IdentitySource for SlowKeys {
    fn signing_key<'a>(
        &'a self,
        did: &'a syntax::Did,
        refresh: bool,
    ) -> BoxFuture<'a, Result<repo::PublicKey, LookupError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.signing_key(did, refresh).await
        })
    }

    fn pds_endpoint<'a>(
        &'a self,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<String, LookupError>> {
        self.inner.pds_endpoint(did)
    }

    fn refresh_handle<'a>(
        &'a self,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<Option<syntax::Handle>, LookupError>> {
        self.inner.refresh_handle(did)
    }
}

fn repos(n: usize, delay: Duration) -> (Arc<SlowKeys>, Vec<SynthRepo>) {
    let inner = StaticIdentity::new();
    let mut out = Vec::new();
    for i in 0..n {
        let did = format!("did:plc:{:0>24}", format!("pool{i}"));
        let key = repo::PrivateKey::generate(repo::Curve::K256);
        inner.insert(
            did.clone(),
            StaticAccount {
                key: key.public_key(),
                pds: "http://pds.test".into(),
                handle: None,
            },
        );
        out.push(SynthRepo::new(did, key, 1_780_000_000_000_000));
    }
    (Arc::new(SlowKeys { inner, delay }), out)
}

fn processor(store: &store::Store, identity: Arc<SlowKeys>, workers: usize) -> (Gate, Processor) {
    let tracked = TrackedSet::new();
    let shared = Shared {
        tracked: tracked.clone(),
        ..Shared::default()
    };
    let cfg = ProcessorConfig {
        verify_all: false,
        key_timeout: Duration::from_secs(10),
        verify_workers: workers,
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(1_000);
    let p = Processor::new(cfg, identity, store.reader(), shared, tx);
    (Gate::new(tracked, false, None), p)
}

fn forward(gate: &mut Gate, c: crate::frame::Commit) -> Item {
    match gate.on_message(Bytes::from(crate::frame::Frame::Commit(c).encode())) {
        Verdict::Forward(item) => item,
        other => panic!("gate did not forward: {other:?}"),
    }
}

/// Prepares every item before applying any (as the pipeline does within its window),
/// then applies them in order.
async fn run_ahead(p: &mut Processor, items: Vec<Item>) -> Vec<Outcome> {
    let mut prepared: Vec<Prepared> = Vec::new();
    for i in items {
        prepared.push(p.prepare(i).await);
    }
    let mut out = Vec::new();
    for mut h in prepared {
        h.ready().await;
        out.push(p.finish(h).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_key_lookups_of_different_dids_overlap() {
    let (_dir, store) = temp_store();
    let delay = Duration::from_millis(200);
    let (identity, mut rs) = repos(8, delay);
    let (mut gate, mut p) = processor(&store, identity, 16);
    let items: Vec<Item> = rs
        .iter_mut()
        .enumerate()
        .map(|(i, r)| {
            let c = r.commit(i as i64 + 1, &[put_inbox(&format!("{:064x}", i + 1))]);
            forward(&mut gate, c)
        })
        .collect();
    let t = Instant::now();
    let outcomes = run_ahead(&mut p, items).await;
    let took = t.elapsed();
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Accepted),
        "{outcomes:?}"
    );
    // One after the other they would take 8 × 200 ms; on 16 lanes most overlap.
    assert!(took < delay * 6, "key lookups did not overlap: {took:?}");
    let b = p.take_batch().unwrap();
    assert_eq!(b.cursor, Some(8), "the cursor is the last event applied");
}

#[tokio::test]
async fn commits_checked_ahead_are_applied_in_order_per_did() {
    let (_dir, store) = temp_store();
    let (identity, mut rs) = repos(3, Duration::ZERO);
    let (mut gate, mut p) = processor(&store, identity, 2);
    let mut items = Vec::new();
    let mut seq = 0;
    let mut last_rev = vec![String::new(); 3];
    for round in 0..10u32 {
        for (i, r) in rs.iter_mut().enumerate() {
            seq += 1;
            let w = if round == 0 {
                put_inbox(&format!("{:064x}", i + 1))
            } else {
                like(round)
            };
            let c = r.commit(seq, &[w]);
            last_rev[i] = c.rev.clone();
            items.push(forward(&mut gate, c));
        }
    }
    let outcomes = run_ahead(&mut p, items).await;
    // Every commit continues its DID's chain: none is stale, broken or deferred.
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Accepted),
        "{outcomes:?}"
    );
    store.writer().apply(p.take_batch().unwrap()).await.unwrap();
    for (i, r) in rs.iter().enumerate() {
        let state = store.reader().repo_state(&r.did).await.unwrap().unwrap();
        assert_eq!(state.rev, last_rev[i]);
        assert!(store.reader().link_by_did(&r.did).await.unwrap().is_some());
    }
    assert_eq!(
        store.reader().firehose_state().await.unwrap().cursor,
        Some(30)
    );
}
