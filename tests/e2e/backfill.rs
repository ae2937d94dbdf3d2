//! Backfill end to end: links made before the AppView existed are found through the relay's
//! `listReposByCollection` and give the same index as following the firehose from the start;
//! records deleted or replaced after discovery are reconciled, and firehose events replayed
//! after the backfill cannot undo it (newer rev wins).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use appview::cli::{NetworkArgs, XmtpBackend, XmtpEnv};
use appview::cmd::backfill::engine::{BackfillReport, Progress};
use appview::cmd::backfill::{backfill_config, backfill_db};
use appview::cmd::run::start;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::harness::{Env, PATIENCE, wait_until};

const INBOX: &str = "org.xmtp.inbox";

fn network(env: &Env) -> NetworkArgs {
    let info = env.devnet.info();
    NetworkArgs {
        plc: info.plc_url,
        xmtp_env: XmtpEnv::Dev,
        xmtp_api: Some(info.xmtp_api_url),
        handle_resolver: Some(info.handle_resolver_url),
        allow_private_network: true,
        identity_cache_entries: 100_000,
        xmtp_backend: XmtpBackend::Auto,
        xmtp_gateway: None,
    }
}

/// Backfills the index at `db` from the devnet relay's directory.
async fn backfill(env: &Env, db: &Path) -> BackfillReport {
    let cfg = backfill_config(&[env.devnet.info().discovery_url], true).unwrap();
    backfill_db(
        db,
        cfg,
        &network(env),
        Arc::new(Progress::new()),
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

/// Every link (any status) served at `base`, without the timestamps that legitimately differ
/// between two indexes.
async fn all_links(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("status", "all".to_string()), ("limit", "1000".to_string())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let body: Value = http
            .get(format!("{base}/xrpc/org.xmtp.identity.listLinks"))
            .query(&query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for mut link in body["links"].as_array().cloned().unwrap_or_default() {
            if let Some(obj) = link.as_object_mut() {
                obj.remove("indexedAt");
                obj.remove("verifiedAt");
            }
            out.push(link);
        }
        match body["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_finds_links_made_before_it_and_equals_following_the_firehose() {
    let env = Env::start().await;
    // Made while only AppView A (following the firehose from the start) is running.
    let generated = env.devnet.generate(16, 14).unwrap();
    env.devnet
        .delete_record(&generated.valid[0], INBOX, "self")
        .unwrap();
    env.devnet.link_inbox(&generated.valid[1]).unwrap();
    for did in &generated.valid[1..] {
        env.wait_status(did, "verified").await;
    }
    for did in generated.forged.iter().chain(&generated.revoked) {
        env.wait_status(did, "invalid").await;
    }
    env.wait_gone(&generated.valid[0]).await;

    // Index B is built by the backfill alone, then served (and verified) by AppView B.
    let db_b = env.dir.path().join("backfilled.sqlite");
    let report = backfill(&env, &db_b).await;
    assert_eq!(report.discovered, 14, "{report}");
    assert_eq!(
        (report.indexed, report.absent, report.failed),
        (13, 1, 0),
        "{report}"
    );
    let shutdown = CancellationToken::new();
    let running = start(env.run_config(db_b), None, shutdown.clone())
        .await
        .unwrap();
    let base_b = format!("http://{}", running.addr);
    let base_a = env.app.as_ref().unwrap().base.clone();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        a = all_links(&env.http, &base_a).await;
        b = all_links(&env.http, &base_b).await;
        if a == b && a.len() == 13 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(a.len(), 13);
    assert_eq!(
        a, b,
        "the backfilled index equals the one that followed the firehose"
    );
    shutdown.cancel();
    tokio::time::timeout(PATIENCE, running.wait(shutdown))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_after_discovery_are_reconciled_and_replayed_events_cannot_undo_them() {
    let mut env = Env::start().await;
    let generated = env.devnet.generate(6, 6).unwrap();
    let (gone, relinked) = (generated.valid[0].clone(), generated.valid[1].clone());
    for did in &generated.valid {
        env.wait_status(did, "verified").await;
    }
    // While the AppView is down: one record deleted, one replaced. The directory still lists
    // the deleted one; the backfill's proof of absence removes it.
    env.stop_app().await;
    env.devnet.delete_record(&gone, INBOX, "self").unwrap();
    let (new_inbox, _) = env.devnet.link_inbox(&relinked).unwrap();
    let report = backfill(&env, &env.db()).await;
    assert_eq!((report.absent, report.failed), (1, 0), "{report}");

    // The restarted AppView replays the same changes from its cursor (older or equal revs):
    // the backfilled state stands, and the new link gets verified.
    env.start_app().await;
    let link = env.wait_status(&relinked, "verified").await;
    assert_eq!(link["inboxId"], new_inbox.as_str());
    assert!(env.link(&gone).await.is_none());
    wait_until("the replay has been applied", || async {
        let (_, status) = env.xrpc("org.xmtp.identity.getStatus", &[]).await;
        status["firehose"]["cursor"].as_i64() >= Some(env.devnet.relay().current_seq())
    })
    .await;
    assert!(env.link(&gone).await.is_none());
    assert_eq!(
        env.link(&relinked).await.unwrap()["inboxId"],
        new_inbox.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_backfill_resumes_where_it_stopped_without_duplicates() {
    let mut env = Env::start().await;
    let generated = env.devnet.generate(30, 30).unwrap();
    env.stop_app().await;
    env.devnet.pds().set_faults(devnet::atmosphere::HttpFaults {
        latency: Some(Duration::from_millis(30)),
        ..Default::default()
    });
    // Into the stopped AppView's own index (it followed part of the firehose already).
    let db = env.db();
    let mut cfg = backfill_config(&[env.devnet.info().discovery_url], true).unwrap();
    cfg.concurrency = 2;
    cfg.per_host_concurrency = 2;
    cfg.write_batch = 1;
    let progress = Arc::new(Progress::new());
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (db, cfg, net, progress, stop) = (
            db.clone(),
            cfg.clone(),
            network(&env),
            progress.clone(),
            stop.clone(),
        );
        async move { backfill_db(&db, cfg, &net, progress, stop).await }
    });
    wait_until("a third of the repos are done", || {
        let progress = progress.clone();
        async move { progress.finished() >= 10 }
    })
    .await;
    stop.cancel();
    let first = run.await.unwrap().unwrap();
    assert!(first.interrupted && first.indexed < 30, "{first}");

    let second = backfill_db(
        &db,
        cfg,
        &network(&env),
        Arc::new(Progress::new()),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(!second.interrupted, "{second}");
    assert_eq!(second.done_before, first.indexed, "{second}");
    assert_eq!(first.indexed + second.indexed, 30, "{first} / {second}");

    // Served: every generated link exactly once.
    env.devnet.pds().set_faults(Default::default());
    env.start_app().await;
    let base = env.app.as_ref().unwrap().base.clone();
    let links = all_links(&env.http, &base).await;
    let mut dids: Vec<&str> = links.iter().filter_map(|l| l["did"].as_str()).collect();
    dids.sort_unstable();
    let mut expected: Vec<&str> = generated.users.iter().map(|u| u.did.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(dids, expected);
}
