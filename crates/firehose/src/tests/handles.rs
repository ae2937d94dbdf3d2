//! Handles stay true: when an account the index does not track takes over a handle the
//! index holds for a linked account, the takeover is verified and the handle moves, so
//! `resolveActor(handle)` never answers with the first account's link. Before, the gate
//! dropped the new claimant's `#identity` (untracked) and the old claim stayed.

use std::sync::Arc;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::support::*;
use crate::frame::{Frame, IdentityEvent};
use crate::gate::Verdict;
use crate::process::Outcome;
use crate::worker::{WorkerConfig, WorkerCtx, run_identity};
use store::{Batch, Change};
use sync::{StaticAccount, StaticIdentity};

const ALICE: &str = "did:plc:alice2345alice2345alice23";
const BOB: &str = "did:plc:bob2345bob2345bob2345bob23";

fn account(handle: &str) -> StaticAccount {
    StaticAccount {
        key: repo::PrivateKey::generate(repo::Curve::K256).public_key(),
        pds: "http://pds.test".into(),
        handle: Some(handle.into()),
    }
}

#[tokio::test]
async fn an_untracked_account_taking_over_a_held_handle_moves_it() {
    let (_dir, store) = temp_store();
    store
        .writer()
        .apply(Batch::of(vec![
            put_link(ALICE),
            Change::Handle {
                did: testkit::ids::did(ALICE),
                handle: Some(testkit::ids::handle("alice.test")),
            },
        ]))
        .await
        .unwrap();
    // The handle now resolves to Bob (and Bob's document claims it).
    let identity = Arc::new(StaticIdentity::new());
    identity.insert(ALICE, account("alice.test"));
    identity.insert(BOB, account("alice.test"));
    let (mut gate, mut p, rx, _) = stages(&store, identity.clone(), false);
    let frame = Frame::Identity(IdentityEvent {
        seq: 7,
        did: BOB.into(),
        time: "2026-07-04T12:00:00.000Z".into(),
        handle: Some("Alice.Test".into()),
    });
    let Verdict::Forward(item) = gate.on_message(Bytes::from(frame.encode())) else {
        panic!("the claim of a held handle was dropped by the gate");
    };
    assert_eq!(p.process(item).await, Outcome::Accepted);

    let ctx = Arc::new(WorkerCtx {
        identity,
        fetcher: Arc::new(sync::HttpRecordFetcher::new("test").unwrap()),
        writer: store.writer(),
        reader: store.reader(),
        shared: p.shared().clone(),
        cfg: WorkerConfig::default(),
        handles: None,
    });
    let stop = CancellationToken::new();
    let (retry_tx, _retry_rx) = tokio::sync::mpsc::channel(1);
    let worker = tokio::spawn(run_identity(ctx, rx, retry_tx, stop.clone()));
    let r = store.reader();
    for _ in 0..200 {
        if r.did_by_handle("alice.test").await.unwrap().as_deref() == Some(BOB) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.cancel();
    worker.await.unwrap();
    assert_eq!(
        r.did_by_handle("alice.test").await.unwrap().as_deref(),
        Some(BOB)
    );
    let link = r.link_by_did(ALICE).await.unwrap().unwrap();
    assert_eq!(link.handle, None, "Alice's link no longer shows the handle");
}

#[tokio::test]
async fn identity_events_of_untracked_dids_with_unheld_handles_are_ignored() {
    let (_dir, store) = temp_store();
    let identity = Arc::new(StaticIdentity::new());
    let (mut gate, mut p, mut rx, _) = stages(&store, identity, false);
    let frame = Frame::Identity(IdentityEvent {
        seq: 8,
        did: BOB.into(),
        time: "2026-07-04T12:00:00.000Z".into(),
        handle: Some("someone.test".into()),
    });
    let Verdict::Forward(item) = gate.on_message(Bytes::from(frame.encode())) else {
        panic!("dropped")
    };
    assert_eq!(p.process(item).await, Outcome::Accepted);
    assert!(rx.try_recv().is_err(), "no refresh for an unrelated handle");
}

/// An `#identity` of `did` claiming `handle`, through the gate and the processor; returns
/// whether the processor asked for `did`'s handle to be verified.
async fn claim(
    gate: &mut crate::gate::Gate,
    p: &mut crate::process::Processor,
    rx: &mut tokio::sync::mpsc::Receiver<String>,
    seq: i64,
    did: &str,
    handle: &str,
) -> bool {
    let frame = Frame::Identity(IdentityEvent {
        seq,
        did: did.into(),
        time: "2026-07-04T12:00:00.000Z".into(),
        handle: Some(handle.into()),
    });
    let Verdict::Forward(item) = gate.on_message(Bytes::from(frame.encode())) else {
        panic!("an #identity was dropped by the gate");
    };
    assert_eq!(p.process(item).await, Outcome::Accepted);
    match rx.try_recv() {
        Ok(d) => {
            assert_eq!(d, did);
            true
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_handle_verified_after_start_up_is_held_for_the_takeover_check() {
    let (_dir, store) = temp_store();
    let identity = Arc::new(StaticIdentity::new());
    let (mut gate, mut p, mut rx, _) = stages(&store, identity, false);
    assert!(!claim(&mut gate, &mut p, &mut rx, 1, BOB, "alice.test").await);
    // The identity worker writes Alice's verified handle while the stream runs.
    store
        .writer()
        .apply(Batch::of(vec![
            put_link(ALICE),
            Change::Handle {
                did: testkit::ids::did(ALICE),
                handle: Some(testkit::ids::handle("alice.test")),
            },
        ]))
        .await
        .unwrap();
    assert!(
        claim(&mut gate, &mut p, &mut rx, 2, BOB, "ALICE.test").await,
        "Bob's claim of a handle the index now holds was not verified"
    );
}

#[tokio::test]
async fn a_claim_of_a_handle_held_by_a_deactivated_account_is_verified() {
    let (_dir, store) = temp_store();
    store
        .writer()
        .apply(Batch::of(vec![
            put_link(ALICE),
            Change::Handle {
                did: testkit::ids::did(ALICE),
                handle: Some(testkit::ids::handle("alice.test")),
            },
            Change::AccountStatus {
                did: testkit::ids::did(ALICE),
                active: false,
                status: Some("deactivated".into()),
            },
        ]))
        .await
        .unwrap();
    let identity = Arc::new(StaticIdentity::new());
    let (mut gate, mut p, mut rx, _) = stages(&store, identity, false);
    // Alice's handle is hidden while she is deactivated, but it is still held: if she came
    // back with it after Bob took it over, resolveActor(alice.test) would answer with her.
    assert_eq!(
        store.reader().did_by_handle("alice.test").await.unwrap(),
        None
    );
    assert!(claim(&mut gate, &mut p, &mut rx, 1, BOB, "alice.test").await);
}

#[tokio::test]
async fn at_start_up_a_link_whose_handle_check_was_lost_gets_its_handle() {
    // The link landed, then the process died before its in-memory handle check ran.
    let (_dir, store) = temp_store();
    store
        .writer()
        .apply(Batch::of(vec![put_link(ALICE), put_link(BOB)]))
        .await
        .unwrap();
    let identity = Arc::new(StaticIdentity::new());
    identity.insert(ALICE, account("alice.test"));
    identity.insert(BOB, account("bob.test"));
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let ctx = Arc::new(WorkerCtx {
        identity,
        fetcher: Arc::new(sync::HttpRecordFetcher::new("test").unwrap()),
        writer: store.writer(),
        reader: store.reader(),
        shared: Default::default(),
        cfg: WorkerConfig::default(),
        handles: None,
    });
    let stop = CancellationToken::new();
    let sweep = tokio::spawn(crate::worker::run_handle_sweep(
        ctx.clone(),
        tx.clone(),
        stop.clone(),
    ));
    let worker = tokio::spawn(run_identity(ctx, rx, tx, stop.clone()));
    let r = store.reader();
    for _ in 0..500 {
        let alice = r.link_by_did(ALICE).await.unwrap().unwrap();
        let bob = r.link_by_did(BOB).await.unwrap().unwrap();
        if alice.handle.is_some() && bob.handle.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.cancel();
    sweep.await.unwrap();
    worker.await.unwrap();
    let alice = r.link_by_did(ALICE).await.unwrap().unwrap();
    let bob = r.link_by_did(BOB).await.unwrap().unwrap();
    assert_eq!(alice.handle.as_deref(), Some("alice.test"));
    assert_eq!(bob.handle.as_deref(), Some("bob.test"));
    assert_eq!(
        r.links_without_handle(None, 10).await.unwrap(),
        Vec::<String>::new()
    );
}
