//! Sync 1.1 repair and verification details: a chain gap desynchronizes the repo into the
//! durable resync queue, its events wait, and the worker applies the proven `getRecord`
//! record; a signature failure refreshes the key once (rate-limited); a malformed record
//! becomes an invalid link.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;

use super::support::*;
use crate::process::Outcome;
use crate::worker::{WorkerConfig, WorkerCtx, run_resyncs};
use sync::{
    BoxFuture, FetchedRecord, IdentitySource, LookupError, RecordFetcher, Reject, StaticAccount,
    StaticIdentity,
};
use testkit::atproto::{SynthRepo, Write, inbox_record};

const ALICE: &str = "did:plc:alice2345alice2345alice23";
const INBOX_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const INBOX_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

struct MapFetcher(HashMap<String, Vec<u8>>);

impl RecordFetcher for MapFetcher {
    fn get_record<'a>(
        &'a self,
        _pds: &'a str,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<FetchedRecord, LookupError>> {
        Box::pin(async move {
            Ok(self
                .0
                .get(did.as_str())
                .cloned()
                .map_or(FetchedRecord::NotFound, FetchedRecord::Car))
        })
    }
}

#[tokio::test]
async fn chain_gap_desynchronizes_the_repo_and_the_worker_applies_the_proven_record() {
    let (_dir, store) = temp_store();
    let key = repo::PrivateKey::generate(repo::Curve::K256);
    let identity = Arc::new(StaticIdentity::new());
    identity.insert(
        ALICE,
        StaticAccount {
            key: key.public_key(),
            pds: "http://pds".into(),
            handle: None,
        },
    );
    let (mut gate, mut p, _handles, _) = stages(&store, identity.clone(), false);
    let mut a = SynthRepo::new(ALICE, key, 1_780_000_000_000_000);
    let c1 = a.commit(1, &[put_inbox(INBOX_A)]);
    let _missed = a.commit(2, &[put_inbox(INBOX_B)]);
    let c3 = a.commit(3, &[like(1)]);
    let c4 = a.commit(4, &[like(2)]);
    assert_eq!(feed(&mut gate, &mut p, c1).await, Outcome::Accepted);
    // c3 does not follow c1 (`since` is c2's rev): the repo is desynchronized, and its
    // events wait for the resync instead of being applied on a broken chain.
    assert_eq!(
        feed(&mut gate, &mut p, c3).await,
        Outcome::Deferred("since")
    );
    assert_eq!(
        feed(&mut gate, &mut p, c4).await,
        Outcome::Deferred("desynchronized")
    );
    store.writer().apply(p.take_batch().unwrap()).await.unwrap();
    let r = store.reader();
    assert_eq!(
        r.link_by_did(ALICE).await.unwrap().unwrap().inbox_id,
        INBOX_A
    );
    assert_eq!(
        r.desynchronized_dids().await.unwrap(),
        vec![ALICE.to_owned()]
    );

    let proof = a.record_proof("org.xmtp.inbox/self").unwrap();
    let ctx = Arc::new(WorkerCtx {
        identity,
        fetcher: Arc::new(MapFetcher(HashMap::from([(ALICE.to_owned(), proof)]))),
        writer: store.writer(),
        reader: store.reader(),
        shared: p.shared().clone(),
        cfg: WorkerConfig::default(),
        handles: None,
    });
    let stop = CancellationToken::new();
    let worker = tokio::spawn(run_resyncs(ctx, stop.clone()));
    for _ in 0..200 {
        if r.desynchronized_dids().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.cancel();
    worker.await.unwrap();
    assert!(r.desynchronized_dids().await.unwrap().is_empty());
    assert!(!p.shared().is_desynced(ALICE));
    let link = r.link_by_did(ALICE).await.unwrap().unwrap();
    assert_eq!(link.inbox_id, INBOX_B);
    let rs = r.repo_state(ALICE).await.unwrap().unwrap();
    assert_eq!(Some(rs.rev.as_str()), a.rev());
}

/// Returns `stale` until asked to refresh, then `fresh`; counts refreshes.
struct RotatingIdentity {
    stale: repo::PublicKey,
    fresh: repo::PublicKey,
    refreshes: AtomicUsize,
}

impl IdentitySource for RotatingIdentity {
    fn signing_key<'a>(
        &'a self,
        _did: &'a syntax::Did,
        refresh: bool,
    ) -> BoxFuture<'a, Result<repo::PublicKey, LookupError>> {
        Box::pin(async move {
            if refresh {
                self.refreshes.fetch_add(1, Ordering::SeqCst);
                Ok(self.fresh)
            } else {
                Ok(self.stale)
            }
        })
    }
    fn pds_endpoint<'a>(
        &'a self,
        _did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(async { Ok("http://pds".to_owned()) })
    }
    fn refresh_handle<'a>(
        &'a self,
        _did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<Option<syntax::Handle>, LookupError>> {
        Box::pin(async { Ok(None) })
    }
}

#[tokio::test]
async fn signature_failure_refreshes_the_key_once_then_rejects() {
    let (_dir, store) = temp_store();
    let new_key = repo::PrivateKey::generate(repo::Curve::P256);
    let ident = Arc::new(RotatingIdentity {
        stale: repo::PrivateKey::generate(repo::Curve::K256).public_key(),
        fresh: new_key.public_key(),
        refreshes: AtomicUsize::new(0),
    });
    let (mut gate, mut p, _jobs, _) = stages(&store, ident.clone(), false);
    let mut a = SynthRepo::new(ALICE, new_key, 1_780_000_000_000_000);
    assert_eq!(
        feed(&mut gate, &mut p, a.commit(1, &[put_inbox(INBOX_A)])).await,
        Outcome::Accepted
    );
    assert_eq!(ident.refreshes.load(Ordering::SeqCst), 1);
    // A commit signed by some other key: refresh is rate-limited, so it is rejected at once.
    let mut forged = SynthRepo::new(
        ALICE,
        repo::PrivateKey::generate(repo::Curve::K256),
        1_790_000_000_000_000,
    );
    let out = feed(&mut gate, &mut p, forged.commit(2, &[put_inbox(INBOX_B)])).await;
    assert_eq!(out, Outcome::Rejected(Reject::Signature));
    assert_eq!(ident.refreshes.load(Ordering::SeqCst), 1);
    let b = p.take_batch().unwrap();
    assert_eq!((b.stats.commits_verified, b.stats.commits_rejected), (1, 1));
}

#[tokio::test]
async fn malformed_record_becomes_an_invalid_link_with_a_reason() {
    let (_dir, store) = temp_store();
    let key = repo::PrivateKey::generate(repo::Curve::K256);
    let identity = Arc::new(StaticIdentity::new());
    identity.insert(
        ALICE,
        StaticAccount {
            key: key.public_key(),
            pds: "http://pds".into(),
            handle: None,
        },
    );
    let (mut gate, mut p, _jobs, _) = stages(&store, identity, false);
    let mut a = SynthRepo::new(ALICE, key, 1_780_000_000_000_000);
    let bad = Write::Put(
        "org.xmtp.inbox/self".into(),
        inbox_record("NOT-HEX", "AAEC", "2026-07-04T12:00:00Z"),
    );
    assert_eq!(
        feed(&mut gate, &mut p, a.commit(1, &[bad])).await,
        Outcome::Accepted
    );
    store.writer().apply(p.take_batch().unwrap()).await.unwrap();
    let link = store.reader().link_by_did(ALICE).await.unwrap().unwrap();
    assert_eq!(link.status, store::Status::Invalid);
    assert!(link.reason.unwrap_or_default().contains("64 lowercase hex"));
}
