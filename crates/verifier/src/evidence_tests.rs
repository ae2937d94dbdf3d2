//! Only evidence makes a link `invalid`: against the devnet XMTP stand-in, a
//! smart-contract-wallet check the node could not run, an update kind this verifier does
//! not know and bytes that do not decode leave links `pending` with a reason (and are not
//! cached), while a log that replays to another inbox is `invalid`.

use crate::pool::unix_now;
use crate::tests::env;
use devnet::xmtp::FaultMode;
use store::{Batch, Change, Status};
use xmtp::InstallationKey;

#[tokio::test]
async fn a_smart_contract_wallet_error_keeps_the_link_pending_until_the_fault_clears() {
    let e = env().await;
    let (inbox, _) = e.node.create_scw_inbox();
    e.put_signed("did:plc:scw", "bafyscw0", &inbox).await;
    e.node.set_mode(FaultMode::ScwError);
    let mut v = e.verifier();
    let now = unix_now();
    let stats = v.round(now).await.unwrap();
    assert_eq!((stats.links, stats.deferred, stats.invalid), (1, 1, 0));
    assert_eq!(
        e.status("did:plc:scw").await,
        (Status::Pending, Some("scw_unchecked".into()), None)
    );
    assert_eq!(
        e.store.reader().inbox_state(&inbox.inbox_id).await.unwrap(),
        None,
        "a log that could not be evaluated is not cached"
    );
    // Retried later, not in a loop.
    assert_eq!(v.round(now).await.unwrap().links, 0);
    e.node.set_mode(FaultMode::Normal);
    let stats = v.round(now + 10_000).await.unwrap();
    assert_eq!(stats.verified, 1);
    let key = hex::encode(inbox.installations[0].public_key());
    assert_eq!(
        e.status("did:plc:scw").await,
        (Status::Verified, None, Some(key))
    );
}

#[tokio::test]
async fn a_log_that_replays_to_another_inbox_is_invalid_for_the_record() {
    let e = env().await;
    // The node serves, under the record's inbox ID, a genuine log of another inbox.
    let wallet = testkit::xmtp::Wallet::generate();
    let installation = InstallationKey::generate();
    let other = testkit::xmtp::create_inbox(&wallet, 1, &installation, 1_767_225_600_000_000_000);
    let claimed = "cd".repeat(32);
    e.node.append_unchecked(&claimed, other);
    e.put(
        "did:plc:mixup",
        "bafymix0",
        &claimed,
        &installation.sign_did("did:plc:mixup"),
    )
    .await;
    let stats = e.verifier().round(unix_now()).await.unwrap();
    assert_eq!(stats.invalid, 1);
    assert_eq!(
        e.status("did:plc:mixup").await,
        (Status::Invalid, Some("inbox_id_mismatch".into()), None)
    );
    assert_eq!(
        e.store.reader().inbox_state(&claimed).await.unwrap(),
        None,
        "another inbox's state is not cached under the record's inbox"
    );
}

#[tokio::test]
async fn an_unknown_update_kind_or_undecodable_bytes_leave_links_pending() {
    let e = env().await;
    let inbox = e.node.create_inbox();
    e.put_signed("did:plc:alice", "bafya000", &inbox).await;
    let mut v = e.verifier();
    let now = unix_now();
    v.round(now).await.unwrap();
    assert_eq!(e.status("did:plc:alice").await.0, Status::Verified);
    // XMTP adds an update kind; a new link of the same inbox makes the verifier read it.
    e.node.append_raw(
        &inbox.inbox_id,
        testkit::xmtp::update_of_unknown_kind(&inbox.inbox_id, 1),
    );
    e.put_signed("did:plc:bob", "bafyb000", &inbox).await;
    let junk = e.node.create_inbox();
    e.node.append_raw(&junk.inbox_id, vec![0xff; 7]);
    e.put_signed("did:plc:carol", "bafyc000", &junk).await;
    let stats = v.round(now).await.unwrap();
    assert_eq!(stats.invalid, 0);
    for did in ["did:plc:alice", "did:plc:bob", "did:plc:carol"] {
        assert_eq!(
            e.status(did).await,
            (
                Status::Pending,
                Some("identity_update_unsupported".into()),
                None
            ),
            "{did}"
        );
    }
    // The cache keeps the last state that could be evaluated (not a final invalid one).
    let (_, bytes) = e
        .store
        .reader()
        .inbox_state(&inbox.inbox_id)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        xmtp::CachedInbox::from_bytes(&bytes).unwrap(),
        xmtp::CachedInbox::Valid { .. }
    ));
    // Retried, but not before retry_max: it takes a new release to read such an update.
    assert_eq!(v.round(now + 60).await.unwrap().links, 0);
    let stats = v.round(now + 3600).await.unwrap();
    assert_eq!((stats.links, stats.deferred), (3, 3));
}

#[tokio::test]
async fn an_invalid_inbox_cached_without_a_kind_is_replayed_again() {
    let e = env().await;
    let inbox = e.node.create_inbox();
    // What an earlier version cached when the node's chain RPC failed.
    let legacy =
        br#"{"Invalid":{"last_sequence_id":1,"reason":"smart contract wallet signature invalid"}}"#;
    e.store
        .writer()
        .apply(Batch::of(vec![Change::InboxState {
            inbox_id: inbox.inbox_id.clone(),
            last_sequence_id: 1,
            state: legacy.to_vec(),
        }]))
        .await
        .unwrap();
    e.put_signed("did:plc:alice", "bafya000", &inbox).await;
    let stats = e.verifier().round(unix_now()).await.unwrap();
    assert_eq!(stats.verified, 1);
    assert_eq!(e.status("did:plc:alice").await.0, Status::Verified);
}

#[tokio::test]
async fn a_fault_during_a_recheck_leaves_a_verified_link_verified() {
    let e = env().await;
    let inbox = e.node.create_inbox();
    e.put_signed("did:plc:alice", "bafya000", &inbox).await;
    let mut v = e.verifier();
    v.round(unix_now()).await.unwrap();
    let verified = e.status("did:plc:alice").await;
    assert_eq!(verified.0, Status::Verified);
    e.node.set_mode(FaultMode::Down);
    let stats = v.round(unix_now() + 2 * 24 * 3600).await.unwrap();
    assert_eq!((stats.links, stats.retried), (1, 1));
    assert_eq!(
        e.status("did:plc:alice").await,
        verified,
        "a fault is no evidence"
    );
}

#[tokio::test]
async fn a_link_invalid_for_an_inbox_id_mismatch_is_rechecked_and_can_become_verified() {
    let e = env().await;
    // The node once served another inbox's log under this inbox ID: the link was judged
    // invalid for the mismatch and its re-check scheduled after --reverify-after.
    let inbox = e.node.create_inbox();
    e.put_signed("did:plc:mended", "bafymended", &inbox).await;
    let now = unix_now();
    let recheck_at = now + 100;
    e.store
        .writer()
        .apply(Batch::of(vec![
            Change::Verdict {
                did: testkit::ids::did("did:plc:mended"),
                record_cid: testkit::ids::cid("bafymended"),
                status: Status::Invalid,
                reason: Some(store::ReasonCode::InboxIdMismatch.as_str().into()),
                installation_key: None,
            },
            Change::RetryLater {
                did: testkit::ids::did("did:plc:mended"),
                record_cid: testkit::ids::cid("bafymended"),
                not_before: recheck_at,
            },
        ]))
        .await
        .unwrap();
    let mut v = e.verifier();
    assert_eq!(v.round(now).await.unwrap().links, 0, "not before its time");
    // Its time comes: the node now serves the inbox's own log.
    let stats = v.round(recheck_at).await.unwrap();
    assert_eq!((stats.links, stats.verified), (1, 1));
    let key = hex::encode(inbox.installations[0].public_key());
    assert_eq!(
        e.status("did:plc:mended").await,
        (Status::Verified, None, Some(key))
    );
}
