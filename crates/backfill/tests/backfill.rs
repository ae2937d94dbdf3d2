//! The backfill against the devnet: discovery with the listRepos fallback, proof-checked
//! fetches, proof of absence, rev ordering against newer state, Retry-After, transport faults
//! that change nothing, and a resumed run that refetches nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use backfill::{BackfillConfig, BackfillDeps, Progress, run_backfill};
use devnet::atmosphere::HttpFaults;
use devnet::world::{Devnet, DevnetConfig};
use store::{BackfillState, Batch, Store};
use sync::resync::{InboxOutcome, fetch_inbox_changes};
use sync::{HttpRecordFetcher, StaticAccount, StaticIdentity};
use syntax::Did;
use tokio_util::sync::CancellationToken;

struct World {
    devnet: Devnet,
    identity: Arc<StaticIdentity>,
    _dir: tempfile::TempDir,
    store: Store,
}

impl World {
    async fn new() -> World {
        let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("index.sqlite")).unwrap();
        World {
            devnet,
            identity: Arc::new(StaticIdentity::new()),
            _dir: dir,
            store,
        }
    }

    /// Creates `n` users, each with a valid inbox link; returns their DIDs.
    fn linked_users(&self, n: usize) -> Vec<String> {
        let dids = self.users(n);
        for did in &dids {
            self.devnet.link_inbox(did).unwrap();
        }
        dids
    }

    /// Creates `n` users (identity registered); returns their DIDs.
    fn users(&self, n: usize) -> Vec<String> {
        let start = self.devnet.users().len();
        (0..n)
            .map(|i| {
                let user = self
                    .devnet
                    .create_user(&format!("bf{:05}", start + i))
                    .unwrap();
                let info = self.devnet.pds().account_info(&user.did).unwrap();
                self.identity.insert(
                    user.did.clone(),
                    StaticAccount {
                        key: repo::PublicKey::from_multibase(&info.signing_key).unwrap(),
                        pds: self.devnet.info().pds_url,
                        handle: Some(user.handle.clone()),
                    },
                );
                user.did
            })
            .collect()
    }

    fn cfg(&self, discovery: Vec<String>) -> BackfillConfig {
        BackfillConfig {
            discovery,
            allow_private_network: true,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            write_interval: Duration::from_millis(20),
            ..BackfillConfig::default()
        }
    }

    fn deps(&self, progress: Arc<Progress>) -> BackfillDeps {
        BackfillDeps {
            writer: self.store.writer(),
            reader: self.store.reader(),
            identity: self.identity.clone(),
            handles: Some(self.identity.clone()),
            fetcher: None,
            progress,
        }
    }

    async fn run(&self, cfg: BackfillConfig) -> backfill::BackfillReport {
        run_backfill(
            cfg,
            self.deps(Arc::new(Progress::new())),
            CancellationToken::new(),
        )
        .await
        .unwrap()
    }

    async fn inbox_of(&self, did: &str) -> Option<String> {
        self.store
            .reader()
            .link_by_did(did)
            .await
            .unwrap()
            .map(|l| l.inbox_id)
    }
}

#[tokio::test]
async fn relay_and_pds_discovery_merge_and_every_record_is_indexed_with_its_handle() {
    let w = World::new().await;
    let dids = w.users(12);
    for did in &dids[..8] {
        w.devnet.link_inbox(did).unwrap();
    }
    let info = w.devnet.info();
    // The relay answers listReposByCollection (8 DIDs); the PDS only listRepos (all 12).
    let report = w.run(w.cfg(vec![info.discovery_url, info.pds_url])).await;
    assert_eq!(report.discovered, 12, "{report}");
    assert_eq!((report.indexed, report.absent, report.failed), (8, 4, 0));
    assert!(!report.interrupted);
    for did in &dids[..8] {
        let link = w.store.reader().link_by_did(did).await.unwrap().unwrap();
        assert_eq!(Some(link.inbox_id.clone()), w.devnet.linked_inbox(did));
        assert_eq!(link.status, store::Status::Pending);
        assert!(link.handle.is_some(), "handle learned for {did}");
        assert!(w.store.reader().repo_state(did).await.unwrap().is_some());
    }
    for did in &dids[8..] {
        assert_eq!(w.inbox_of(did).await, None);
    }
    // One event per new link, `created` with its handle already on it (the handle is
    // written before the record, not as a second `updated` event).
    let events = w.store.reader().link_events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![store::EventKind::Created; 8], "{events:?}");
    for e in &events {
        let handle = e.link.as_ref().and_then(|l| l.handle.clone());
        assert!(handle.is_some(), "{e:?}");
    }
}

#[tokio::test]
async fn a_proof_of_absence_removes_a_stale_link_on_the_next_pass() {
    let w = World::new().await;
    let dids = w.linked_users(3);
    let cfg = w.cfg(vec![w.devnet.info().discovery_url]);
    assert_eq!(w.run(cfg.clone()).await.indexed, 3);
    // Deleted after discovery: the directory still lists the DID, the proof shows absence.
    w.devnet
        .delete_record(&dids[1], "org.xmtp.inbox", "self")
        .unwrap();
    let report = w.run(cfg).await;
    assert_eq!((report.indexed, report.absent), (2, 1), "{report}");
    assert_eq!(w.inbox_of(&dids[1]).await, None);
    assert!(w.inbox_of(&dids[0]).await.is_some());
}

#[tokio::test]
async fn a_repo_with_an_empty_tree_gets_a_verifiable_proof_of_absence() {
    let w = World::new().await;
    // A repo that never had a record, and one whose only record was deleted.
    let dids = w.users(2);
    w.devnet.link_inbox(&dids[1]).unwrap();
    w.devnet
        .delete_record(&dids[1], "org.xmtp.inbox", "self")
        .unwrap();
    let fetcher = HttpRecordFetcher::new("test")
        .unwrap()
        .allow_private_network(true);
    for did in &dids {
        let fetched = fetch_inbox_changes(w.identity.as_ref(), &fetcher, &Did::parse(did).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{did}: empty-tree proof of absence rejected: {e}"));
        let InboxOutcome::Absent { commit } = &fetched.outcome else {
            panic!(
                "{did}: expected a proof of absence, got {:?}",
                fetched.outcome
            )
        };
        assert_eq!(
            commit.data_cid.as_str(),
            repo::mst::empty_root().to_string()
        );
    }
    // The PDS lists both; the backfill proves both absent and fails none.
    let report = w.run(w.cfg(vec![w.devnet.info().pds_url])).await;
    assert_eq!(
        (
            report.discovered,
            report.indexed,
            report.absent,
            report.failed
        ),
        (2, 0, 2, 0),
        "{report}"
    );
    for did in &dids {
        assert_eq!(w.inbox_of(did).await, None);
        assert!(w.store.reader().repo_state(did).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn newer_rev_wins_whatever_order_firehose_and_backfill_results_arrive_in() {
    let w = World::new().await;
    let did = w.users(1).remove(0);
    let typed = Did::parse(&did).unwrap();
    let fetcher = HttpRecordFetcher::new("test")
        .unwrap()
        .allow_private_network(true);
    let (first, _) = w.devnet.link_inbox(&did).unwrap();
    let old = fetch_inbox_changes(w.identity.as_ref(), &fetcher, &typed)
        .await
        .unwrap();
    let (second, _) = w.devnet.link_inbox(&did).unwrap();
    let new = fetch_inbox_changes(w.identity.as_ref(), &fetcher, &typed)
        .await
        .unwrap();
    w.devnet
        .delete_record(&did, "org.xmtp.inbox", "self")
        .unwrap();
    let gone = fetch_inbox_changes(w.identity.as_ref(), &fetcher, &typed)
        .await
        .unwrap();
    let writer = w.store.writer();

    // The newer state first, then the stale one: the stale one is ignored.
    writer.apply(Batch::of(new.changes())).await.unwrap();
    writer.apply(Batch::of(old.changes())).await.unwrap();
    assert_eq!(w.inbox_of(&did).await, Some(second.clone()));
    assert_ne!(first, second);

    // A proof of absence at a newer rev removes it, and the older record cannot return.
    writer.apply(Batch::of(gone.changes())).await.unwrap();
    writer.apply(Batch::of(new.changes())).await.unwrap();
    writer.apply(Batch::of(old.changes())).await.unwrap();
    assert_eq!(w.inbox_of(&did).await, None);
    let state = w.store.reader().repo_state(&did).await.unwrap().unwrap();
    assert_eq!(
        Some(state.rev.as_str()),
        gone.commit().map(|c| c.rev.as_str())
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_nothing_fails() {
    let w = World::new().await;
    w.linked_users(6);
    w.devnet.pds().set_faults(HttpFaults {
        rate_limit_next: 4,
        retry_after_secs: 1,
        ..HttpFaults::default()
    });
    let started = std::time::Instant::now();
    let report = w.run(w.cfg(vec![w.devnet.info().discovery_url])).await;
    assert_eq!((report.indexed, report.failed), (6, 0), "{report}");
    // Retry-After: 1 s was honoured (our own backoff alone is at most 200 ms).
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn transport_faults_mark_dids_failed_but_never_touch_their_links() {
    let w = World::new().await;
    let dids = w.linked_users(3);
    let cfg = w.cfg(vec![w.devnet.info().discovery_url]);
    assert_eq!(w.run(cfg.clone()).await.indexed, 3);
    w.devnet
        .delete_record(&dids[0], "org.xmtp.inbox", "self")
        .unwrap();
    w.devnet.pds().set_faults(HttpFaults {
        unavailable: true,
        ..HttpFaults::default()
    });
    let cfg = BackfillConfig {
        http_attempts: 2,
        did_attempts: 2,
        ..cfg
    };
    let report = w.run(cfg.clone()).await;
    assert_eq!((report.indexed, report.failed), (0, 3), "{report}");
    for did in &dids {
        assert!(w.inbox_of(did).await.is_some(), "{did} kept");
    }
    // The next run (same pass: failed DIDs are retried) sees the PDS again.
    w.devnet.pds().set_faults(HttpFaults::default());
    let report = w.run(cfg).await;
    assert_eq!(
        (report.indexed, report.absent, report.failed),
        (2, 1, 0),
        "{report}"
    );
    assert_eq!(w.inbox_of(&dids[0]).await, None);
}

#[tokio::test]
async fn an_interrupted_backfill_resumes_without_fetching_a_repo_twice() {
    let w = World::new().await;
    let dids = w.linked_users(40);
    w.devnet.pds().set_faults(HttpFaults {
        latency: Some(Duration::from_millis(40)),
        ..HttpFaults::default()
    });
    let cfg = BackfillConfig {
        concurrency: 2,
        per_host_concurrency: 2,
        write_batch: 1,
        ..w.cfg(vec![w.devnet.info().discovery_url])
    };
    let progress = Arc::new(Progress::new());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_backfill(
        cfg.clone(),
        w.deps(progress.clone()),
        shutdown.clone(),
    ));
    while progress.finished() < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    let first = task.await.unwrap().unwrap();
    assert!(first.interrupted);
    assert!(first.indexed >= 10 && first.indexed < 40, "{first}");

    let second = w.run(cfg).await;
    assert!(!second.interrupted);
    assert_eq!(second.done_before, first.indexed, "{second}");
    assert_eq!(first.indexed + second.indexed, 40, "{first} / {second}");
    let reader = w.store.reader();
    for did in &dids {
        assert_eq!(
            reader.backfill_repo(did).await.unwrap(),
            Some((BackfillState::Indexed, 1)),
            "{did} fetched exactly once"
        );
    }
    assert_eq!(reader.counts().await.unwrap().pending, 40);
}

#[tokio::test]
async fn an_unfinished_pass_is_resumed_without_a_restart() {
    let w = World::new().await;
    let dids = w.linked_users(2);
    // The discovery service is down when the AppView starts.
    w.devnet.relay().set_http_faults(HttpFaults {
        unavailable: true,
        ..HttpFaults::default()
    });
    let cfg = BackfillConfig {
        http_attempts: 1,
        resume_unfinished_after: Duration::from_millis(100),
        ..w.cfg(vec![w.devnet.info().discovery_url])
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(backfill::backfill_when_needed(
        cfg,
        w.deps(Arc::new(Progress::new())),
        || false,
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.inbox_of(&dids[0]).await, None);

    // It comes back: the unfinished pass is resumed on its own.
    w.devnet.relay().set_http_faults(HttpFaults::default());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while w.inbox_of(&dids[1]).await.is_none() || w.inbox_of(&dids[0]).await.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pass was never resumed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
}
