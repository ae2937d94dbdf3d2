//! Records created, updated and deleted on the relay appear, change and vanish in the index;
//! the XMTP half decides verified or invalid; accounts hide and show.

use serde_json::Value;

use super::harness::Env;

const INBOX: &str = "org.xmtp.inbox";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_link_becomes_verified_and_resolves_both_ways() {
    let env = Env::start().await;
    let user = env.devnet.create_user("alice").unwrap();
    let (inbox_id, signature) = env.devnet.link_inbox(&user.did).unwrap();

    let link = env.wait_status(&user.did, "verified").await;
    assert_eq!(link["inboxId"], inbox_id.as_str());
    assert_eq!(link["record"]["verificationSignature"], signature.as_str());
    assert_eq!(
        link["record"]["uri"],
        format!("at://{}/org.xmtp.inbox/self", user.did).as_str()
    );
    assert!(
        link["installationKey"]
            .as_str()
            .is_some_and(|k| k.len() == 64)
    );
    assert!(link["verifiedAt"].is_string());

    // Verified links are served without includeUnverified, by DID and by inbox.
    let (status, body) = env
        .xrpc("org.xmtp.identity.resolveActor", &[("actor", &user.did)])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = env
        .xrpc("org.xmtp.identity.resolveInbox", &[("inboxId", &inbox_id)])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["links"][0]["did"], user.did.as_str());

    // The handle is served once verified both ways, and resolves to the same link.
    super::harness::wait_until("the handle is verified", || async {
        env.link(&user.did)
            .await
            .is_some_and(|l| l["handle"] == user.handle.as_str())
    })
    .await;
    let by_handle = env.link(&user.handle).await.unwrap();
    assert_eq!(by_handle["did"], user.did.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_link_becomes_invalid_and_is_hidden_by_default() {
    let env = Env::start().await;
    let user = env.devnet.create_user("mallory").unwrap();
    env.devnet.forge_link(&user.did).unwrap();

    let link = env.wait_status(&user.did, "invalid").await;
    assert_eq!(link["reason"], "signature_mismatch", "{link}");
    assert_eq!(link["installationKey"], Value::Null);

    let (status, body) = env
        .xrpc("org.xmtp.identity.resolveActor", &[("actor", &user.did)])
        .await;
    // Lexicon errors answer 400, as the XRPC conventions say.
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "LinkNotFound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_installation_turns_a_verified_link_invalid() {
    let env = Env::start().await;
    let user = env.devnet.create_user("bob").unwrap();
    env.devnet.link_inbox(&user.did).unwrap();
    env.wait_status(&user.did, "verified").await;

    env.devnet.revoke_link_installation(&user.did).unwrap();
    let link = env.wait_status(&user.did, "invalid").await;
    assert_eq!(link["reason"], "installation_revoked", "{link}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updated_and_deleted_records_change_and_vanish() {
    let env = Env::start().await;
    let user = env.devnet.create_user("carol").unwrap();
    let (first_inbox, _) = env.devnet.link_inbox(&user.did).unwrap();
    env.wait_status(&user.did, "verified").await;

    // A new link (new inbox, new record CID) replaces the old one and is verified afresh.
    let (second_inbox, _) = env.devnet.link_inbox(&user.did).unwrap();
    assert_ne!(first_inbox, second_inbox);
    super::harness::wait_until("the record update is indexed and verified", || async {
        env.link(&user.did)
            .await
            .is_some_and(|l| l["inboxId"] == second_inbox.as_str() && l["status"] == "verified")
    })
    .await;
    let (_, old) = env
        .xrpc(
            "org.xmtp.identity.resolveInbox",
            &[("inboxId", &first_inbox)],
        )
        .await;
    assert_eq!(old["error"], "InboxNotFound", "{old}");

    env.devnet.delete_record(&user.did, INBOX, "self").unwrap();
    env.wait_gone(&user.did).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_accounts_are_hidden_until_reactivated_and_deleted_ones_removed() {
    let env = Env::start().await;
    let user = env.devnet.create_user("dave").unwrap();
    env.devnet.link_inbox(&user.did).unwrap();
    env.wait_status(&user.did, "verified").await;

    env.devnet
        .set_account_status(&user.did, false, Some("deactivated"))
        .unwrap();
    env.wait_gone(&user.did).await;

    env.devnet
        .set_account_status(&user.did, true, None)
        .unwrap();
    env.wait_status(&user.did, "verified").await;

    env.devnet
        .set_account_status(&user.did, false, Some("deleted"))
        .unwrap();
    env.wait_gone(&user.did).await;
}
