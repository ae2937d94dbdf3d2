//! A lying relay cannot plant or remove a link. The devnet relay rewrites the unsigned
//! envelope of a victim's genuine signed commit — `prevData` stripped, ops swapped for a
//! create (with the attacker's record, validly signed over the victim's DID by the
//! attacker's own installation, added to the CAR) or a delete of `org.xmtp.inbox/self` —
//! and the whole AppView (`run`) must believe none of it. Before the ops were proven
//! against the signed root, the first test ended with the attacker's inbox as the victim's
//! *verified* link.

use super::harness::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_relay_cannot_plant_a_link() {
    let env = Env::start().await;
    let victim = env.devnet.create_user("victim").unwrap();
    let marker = env.devnet.create_user("marker").unwrap();
    // The PDS is down: no resync can correct what the AppView might have believed.
    env.devnet.pds().set_faults(devnet::atmosphere::HttpFaults {
        unavailable: true,
        ..Default::default()
    });
    let attacker_inbox = env.devnet.relay_plants_link(&victim.did).unwrap();
    // A genuine link published after the lie: once it is verified, the lie was processed.
    env.devnet.link_inbox(&marker.did).unwrap();
    // The planted link must never show, not even until a resync would correct it.
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(3) {
        assert_eq!(env.link(&victim.did).await, None, "a link was planted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    env.wait_status(&marker.did, "verified").await;
    assert_eq!(env.link(&victim.did).await, None, "a link was planted");
    let (status, body) = env
        .xrpc(
            "org.xmtp.identity.resolveInbox",
            &[("inboxId", &attacker_inbox), ("includeUnverified", "true")],
        )
        .await;
    let links = body["links"].as_array().map_or(0, Vec::len);
    assert!(status == 400 || links == 0, "{status} {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_relay_cannot_remove_a_link() {
    let env = Env::start().await;
    let victim = env.devnet.create_user("victim").unwrap();
    let marker = env.devnet.create_user("marker").unwrap();
    let (inbox, _) = env.devnet.link_inbox(&victim.did).unwrap();
    env.wait_status(&victim.did, "verified").await;

    env.devnet.relay_deletes_link(&victim.did).unwrap();
    env.devnet.link_inbox(&marker.did).unwrap();
    env.wait_status(&marker.did, "verified").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let link = env.link(&victim.did).await.expect("the link was removed");
    assert_eq!(link["status"], "verified", "{link}");
    assert_eq!(link["inboxId"], inbox.as_str());
}
