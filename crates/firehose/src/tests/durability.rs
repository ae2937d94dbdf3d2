//! Nothing deferred is lost, and one bad host delays only its own accounts: a commit whose
//! signing key cannot be fetched is queued durably and applied after a restart once the
//! key comes back; a DID whose host stalls does not hold back other accounts; a host that
//! answers again gets its deferred work retried promptly.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::support::*;
use crate::process::{Outcome, Shared};
use crate::worker::{WorkerConfig, WorkerCtx, run_resyncs};
use sync::{
    BoxFuture, FetchedRecord, IdentitySource, LookupError, RecordFetcher, Reject, RepoStatus,
    StaticAccount, StaticIdentity,
};
use testkit::atproto::SynthRepo;

const ALICE: &str = "did:plc:alice2345alice2345alice23";
const SLOW: &str = "did:plc:slow2345slow2345slow2345s";
const INBOX_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A static identity that can be down (every lookup fails as a network fault) and can
/// stall chosen DIDs (their lookups never answer).
struct FaultyIdentity {
    inner: StaticIdentity,
    down: AtomicBool,
    stalled: Mutex<HashSet<String>>,
    handle_refreshes: std::sync::atomic::AtomicUsize,
}

impl FaultyIdentity {
    async fn gate(&self, did: &str) -> Result<(), LookupError> {
        if self.stalled.lock().unwrap().contains(did) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(LookupError::Transient("PLC unreachable".into()));
        }
        Ok(())
    }
}

impl IdentitySource for FaultyIdentity {
    fn signing_key<'a>(
        &'a self,
        did: &'a syntax::Did,
        refresh: bool,
    ) -> BoxFuture<'a, Result<repo::PublicKey, LookupError>> {
        Box::pin(async move {
            self.gate(did).await?;
            self.inner.signing_key(did, refresh).await
        })
    }

    fn pds_endpoint<'a>(
        &'a self,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<String, LookupError>> {
        Box::pin(async move {
            self.gate(did).await?;
            self.inner.pds_endpoint(did).await
        })
    }

    fn refresh_handle<'a>(
        &'a self,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<Option<syntax::Handle>, LookupError>> {
        Box::pin(async move {
            self.handle_refreshes.fetch_add(1, Ordering::SeqCst);
            self.gate(did).await?;
            self.inner.refresh_handle(did).await
        })
    }
}

/// Serves the latest proof of each repo it was given, and the statuses it was given.
#[derive(Default)]
struct Proofs(
    Mutex<HashMap<String, Vec<u8>>>,
    Mutex<HashMap<String, RepoStatus>>,
);

impl RecordFetcher for Proofs {
    fn get_record<'a>(
        &'a self,
        _pds: &'a str,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<FetchedRecord, LookupError>> {
        Box::pin(async move {
            Ok(self
                .0
                .lock()
                .unwrap()
                .get(did.as_str())
                .cloned()
                .map_or(FetchedRecord::NotFound, FetchedRecord::Car))
        })
    }

    fn repo_status<'a>(
        &'a self,
        _pds: &'a str,
        did: &'a syntax::Did,
    ) -> BoxFuture<'a, Result<Option<RepoStatus>, LookupError>> {
        Box::pin(async move { Ok(self.1.lock().unwrap().get(did.as_str()).cloned()) })
    }
}

fn world(dids: &[&str]) -> (Arc<FaultyIdentity>, Vec<SynthRepo>) {
    let inner = StaticIdentity::new();
    let mut repos = Vec::new();
    for did in dids {
        let key = repo::PrivateKey::generate(repo::Curve::K256);
        inner.insert(
            *did,
            StaticAccount {
                key: key.public_key(),
                pds: "http://pds.test".into(),
                handle: None,
            },
        );
        repos.push(SynthRepo::new(*did, key, 1_780_000_000_000_000));
    }
    let identity = Arc::new(FaultyIdentity {
        inner,
        down: AtomicBool::new(false),
        stalled: Mutex::default(),
        handle_refreshes: Default::default(),
    });
    (identity, repos)
}

fn worker(
    store: &store::Store,
    identity: Arc<FaultyIdentity>,
    proofs: Arc<Proofs>,
    shared: Shared,
    cfg: WorkerConfig,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let ctx = Arc::new(WorkerCtx {
        identity,
        fetcher: proofs,
        writer: store.writer(),
        reader: store.reader(),
        shared,
        cfg,
        handles: None,
    });
    let stop = CancellationToken::new();
    (stop.clone(), tokio::spawn(run_resyncs(ctx, stop)))
}

async fn wait_for_link(store: &store::Store, did: &str, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if store.reader().link_by_did(did).await.unwrap().is_some() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn a_commit_whose_key_is_unavailable_survives_a_restart_and_lands_when_plc_returns() {
    let (_dir, store) = temp_store();
    let (identity, mut repos) = world(&[ALICE]);
    identity.down.store(true, Ordering::SeqCst);
    {
        let (mut gate, mut p, _h, _) = stages(&store, identity.clone(), false);
        let c1 = repos[0].commit(1, &[put_inbox(INBOX_A)]);
        let out = feed(&mut gate, &mut p, c1).await;
        assert!(
            matches!(out, Outcome::Rejected(Reject::NoKey(_))),
            "{out:?}"
        );
        store.writer().apply(p.take_batch().unwrap()).await.unwrap();
        // The process dies here: nothing of it survives but the store.
    }
    assert_eq!(store.reader().link_by_did(ALICE).await.unwrap(), None);
    assert_eq!(
        store.reader().desynchronized_dids().await.unwrap(),
        vec![ALICE.to_owned()],
        "the deferred record is queued durably, with the cursor that passed it"
    );

    // Restart with PLC back: the worker reads the queue from the store.
    identity.down.store(false, Ordering::SeqCst);
    let proofs = Arc::new(Proofs::default());
    let proof = repos[0].record_proof("org.xmtp.inbox/self").unwrap();
    proofs.0.lock().unwrap().insert(ALICE.to_owned(), proof);
    let (stop, w) = worker(
        &store,
        identity,
        proofs,
        Shared::default(),
        WorkerConfig::default(),
    );
    let took = wait_for_link(&store, ALICE, Duration::from_secs(10)).await;
    stop.cancel();
    w.await.unwrap();
    assert!(took.is_some(), "the record was lost");
    assert!(
        store
            .reader()
            .desynchronized_dids()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn work_deferred_on_a_failing_host_is_retried_promptly_once_it_answers() {
    let (_dir, store) = temp_store();
    let (identity, mut repos) = world(&[ALICE]);
    identity.down.store(true, Ordering::SeqCst);
    let (mut gate, mut p, _h, _) = stages(&store, identity.clone(), false);
    let c1 = repos[0].commit(1, &[put_inbox(INBOX_A)]);
    let _ = feed(&mut gate, &mut p, c1).await;
    store.writer().apply(p.take_batch().unwrap()).await.unwrap();
    let proofs = Arc::new(Proofs::default());
    let proof = repos[0].record_proof("org.xmtp.inbox/self").unwrap();
    proofs.0.lock().unwrap().insert(ALICE.to_owned(), proof);
    let cfg = WorkerConfig {
        initial_host_backoff: Duration::from_millis(200),
        max_host_backoff: Duration::from_secs(2),
        poll_interval: Duration::from_millis(50),
        ..WorkerConfig::default()
    };
    let (stop, w) = worker(&store, identity.clone(), proofs, p.shared().clone(), cfg);
    // PLC stays down for a while: attempts fail and back off, the row stays queued.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let due = store
        .reader()
        .due_resyncs(i64::MAX, 10)
        .await
        .unwrap()
        .items;
    assert_eq!(due.len(), 1);
    assert!(due[0].attempts >= 1, "{due:?}");
    identity.down.store(false, Ordering::SeqCst);
    let took = wait_for_link(&store, ALICE, Duration::from_secs(10)).await;
    stop.cancel();
    w.await.unwrap();
    // Bounded by the host backoff cap (2 s here, 30 s by default), not by a per-job
    // schedule of minutes.
    let took = took.expect("never recovered");
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[tokio::test]
async fn a_stalled_did_host_delays_only_its_own_account() {
    let (_dir, store) = temp_store();
    let (identity, mut repos) = world(&[SLOW, ALICE]);
    identity.stalled.lock().unwrap().insert(SLOW.to_owned());
    let (mut gate, mut p, _h, _) = stages_with_key_timeout(&store, identity.clone());
    let proofs = Arc::new(Proofs::default());
    let (stop, w) = worker(
        &store,
        identity.clone(),
        proofs.clone(),
        p.shared().clone(),
        WorkerConfig::default(),
    );
    let start = Instant::now();
    for n in 0..5 {
        let c = repos[0].commit(n + 1, &[put_inbox(INBOX_A)]);
        let _ = feed(&mut gate, &mut p, c).await;
    }
    let c = repos[1].commit(10, &[put_inbox(INBOX_A)]);
    assert_eq!(feed(&mut gate, &mut p, c).await, Outcome::Accepted);
    let took = start.elapsed();
    store.writer().apply(p.take_batch().unwrap()).await.unwrap();
    p.shared().wake.notify_one();
    // Alice's link is in after one key timeout for the stalled DID, not its 3600 s stall;
    // the stalled DID's later commits wait for its resync without asking its host again.
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(store.reader().link_by_did(ALICE).await.unwrap().is_some());
    assert_eq!(store.reader().link_by_did(SLOW).await.unwrap(), None);
    assert!(
        store
            .reader()
            .desynchronized_dids()
            .await
            .unwrap()
            .contains(&testkit::ids::did(SLOW))
    );
    stop.cancel();
    w.await.unwrap();
}

#[tokio::test]
async fn a_takedown_that_happened_before_the_did_was_tracked_is_applied() {
    let (_dir, store) = temp_store();
    let (identity, mut repos) = world(&[ALICE]);
    let (mut gate, mut p, _h, _) = stages(&store, identity.clone(), false);
    // The relay delivers a (stale) commit of an account the PDS has already taken down;
    // the #account event went by while the DID was not tracked.
    let c1 = repos[0].commit(1, &[put_inbox(INBOX_A)]);
    assert_eq!(feed(&mut gate, &mut p, c1).await, Outcome::Accepted);
    store.writer().apply(p.take_batch().unwrap()).await.unwrap();
    let proofs = Arc::new(Proofs::default());
    proofs.1.lock().unwrap().insert(
        ALICE.to_owned(),
        RepoStatus {
            active: false,
            status: Some("takendown".into()),
        },
    );
    let (stop, w) = worker(
        &store,
        identity,
        proofs,
        p.shared().clone(),
        WorkerConfig::default(),
    );
    let start = Instant::now();
    while store.reader().link_by_did(ALICE).await.unwrap().is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "takedown not applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    w.await.unwrap();
    assert!(!store.reader().actor_known(ALICE).await.unwrap());
    assert!(
        store
            .reader()
            .desynchronized_dids()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_failing_handle_refresh_is_retried_once_not_forever() {
    let (_dir, store) = temp_store();
    let (identity, _repos) = world(&[ALICE]);
    identity.down.store(true, Ordering::SeqCst);
    let ctx = Arc::new(WorkerCtx {
        identity: identity.clone(),
        fetcher: Arc::new(Proofs::default()),
        writer: store.writer(),
        reader: store.reader(),
        shared: Shared::default(),
        cfg: WorkerConfig {
            identity_retry: Duration::from_millis(20),
            ..WorkerConfig::default()
        },
        handles: None,
    });
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let stop = CancellationToken::new();
    let w = tokio::spawn(crate::worker::run_identity(
        ctx,
        rx,
        tx.clone(),
        stop.clone(),
    ));
    tx.send(ALICE.to_owned()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    w.await.unwrap();
    // The first try and one retry: a dead host is not asked every 30 s forever.
    assert_eq!(identity.handle_refreshes.load(Ordering::SeqCst), 2);
}
