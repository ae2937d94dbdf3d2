//! The HTTP side: record proofs, repo exports, directories, handles and HTTP faults.
use std::collections::BTreeSet;
use std::time::Duration;

use devnet::world::{Devnet, INBOX_COLLECTION, INBOX_RKEY};
use repo::{CarLimits, CarSlice, Cid, Commit, PartialMst};

use crate::support::*;

async fn get_record_car(
    devnet: &Devnet,
    did: &str,
    collection: &str,
    rkey: &str,
) -> reqwest::Response {
    let url = format!(
        "{}/xrpc/com.atproto.sync.getRecord?did={did}&collection={collection}&rkey={rkey}",
        devnet.info().pds_url
    );
    reqwest::get(url).await.unwrap()
}

/// Verifies a getRecord CAR and returns the record CID it proves (None = proven absent).
async fn verify_proof(devnet: &Devnet, did: &str, bytes: &[u8], path: &str) -> Option<Cid> {
    let car = CarSlice::parse(bytes, &CarLimits::PROOF).unwrap();
    let root = car.roots()[0];
    let commit = Commit::decode(car.get(&root).unwrap()).unwrap();
    assert_eq!(commit.did, did);
    commit.verify(&signing_key(devnet, did).await).unwrap();
    let mut tree = PartialMst::load(commit.data, &car).unwrap();
    let found = tree.get(path).unwrap();
    if let Some(cid) = found {
        repo::check_block(&cid, car.get(&cid).unwrap()).unwrap();
    }
    found
}

#[tokio::test]
async fn get_record_proves_presence_and_absence() {
    let devnet = devnet().await;
    let users: Vec<_> = (0..4)
        .map(|i| devnet.create_user(&format!("prover{i}")).unwrap())
        .collect();
    devnet.emit_noise(80).unwrap();
    let did = &users[1].did;
    devnet.link_inbox(did).unwrap();
    let (cid, _) = devnet
        .pds()
        .record(did, INBOX_COLLECTION, INBOX_RKEY)
        .unwrap()
        .unwrap();

    let present = get_record_car(&devnet, did, INBOX_COLLECTION, INBOX_RKEY).await;
    assert_eq!(
        present.headers()["content-type"],
        "application/vnd.ipld.car"
    );
    let bytes = present.bytes().await.unwrap();
    assert_eq!(
        verify_proof(&devnet, did, &bytes, "org.xmtp.inbox/self").await,
        Some(cid)
    );

    let other = &users[2].did;
    let absent = get_record_car(&devnet, other, INBOX_COLLECTION, INBOX_RKEY).await;
    assert_eq!(absent.status(), 200);
    let bytes = absent.bytes().await.unwrap();
    assert_eq!(
        verify_proof(&devnet, other, &bytes, "org.xmtp.inbox/self").await,
        None
    );

    let missing = get_record_car(
        &devnet,
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
        INBOX_COLLECTION,
        INBOX_RKEY,
    )
    .await;
    assert_eq!(missing.status(), 400);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "RepoNotFound");

    let url = format!(
        "{}/xrpc/com.atproto.repo.getRecord?repo={}&collection={INBOX_COLLECTION}&rkey=self",
        devnet.info().pds_url,
        users[1].handle
    );
    let json = get_json(url).await;
    assert_eq!(json["cid"], cid.to_string());
    assert_eq!(json["uri"], format!("at://{did}/org.xmtp.inbox/self"));
    assert_eq!(json["value"]["$type"], "org.xmtp.inbox");
}

#[tokio::test]
async fn list_repos_by_collection_paginates_without_repeats() {
    let devnet = devnet().await;
    let mut linked = BTreeSet::new();
    for i in 0..23 {
        let user = devnet.create_user(&format!("lister{i}")).unwrap();
        if i % 2 == 0 {
            devnet.link_inbox(&user.did).unwrap();
            linked.insert(user.did);
        }
    }
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!(
            "{}/xrpc/com.atproto.sync.listReposByCollection?collection={INBOX_COLLECTION}&limit=5",
            devnet.info().discovery_url
        );
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: serde_json::Value = client.get(url).send().await.unwrap().json().await.unwrap();
        pages += 1;
        for repo in page["repos"].as_array().unwrap() {
            seen.push(repo["did"].as_str().unwrap().to_owned());
        }
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), linked.len(), "no repeats");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), linked);

    let url = format!(
        "{}/xrpc/com.atproto.sync.listReposByCollection?collection={INBOX_COLLECTION}&limit=2001",
        devnet.info().discovery_url
    );
    assert_eq!(client.get(url).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn injected_rate_limits_answer_429_with_retry_after() {
    let devnet = devnet().await;
    let user = devnet.create_user("limited").unwrap();
    devnet.pds().set_faults(devnet::atmosphere::HttpFaults {
        latency: Some(Duration::from_millis(5)),
        rate_limit_next: 1,
        retry_after_secs: 3,
        unavailable: false,
    });
    let url = format!(
        "{}/xrpc/com.atproto.sync.getLatestCommit?did={}",
        devnet.info().pds_url,
        user.did
    );
    let limited = reqwest::get(&url).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    let ok = get_json(&url).await;
    assert_eq!(ok["rev"], devnet.relay().repo(&user.did).unwrap().rev);
}

#[tokio::test]
async fn handles_resolve_through_the_pds_and_the_plc_document() {
    let devnet = devnet().await;
    let user = devnet.create_user("carol").unwrap();
    devnet
        .change_handle(&user.did, "caroline.devnet.test")
        .unwrap();
    let info = devnet.info();
    let url = format!(
        "{}/xrpc/com.atproto.identity.resolveHandle?handle=caroline.devnet.test",
        info.handle_resolver_url
    );
    let resolved = get_json(url).await;
    assert_eq!(resolved["did"], user.did);
    let doc = plc_document(&devnet, &user.did).await;
    assert_eq!(doc["alsoKnownAs"][0], "at://caroline.devnet.test");
    assert_eq!(doc["service"][0]["serviceEndpoint"], info.pds_url);

    devnet
        .set_account_status(&user.did, false, Some("deleted"))
        .unwrap();
    let gone = reqwest::get(format!("{}/{}", info.plc_url, user.did))
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let line = info.run_command_line();
    assert!(line.contains(&format!("--relay {}", info.relay_url)));
    assert!(line.contains("--allow-private-network"));
}

#[tokio::test]
async fn relay_get_repo_redirects_to_a_full_repo_car_on_the_pds() {
    let devnet = devnet().await;
    let user = devnet.create_user("archive").unwrap();
    devnet.emit_noise(15).unwrap();
    devnet.link_inbox(&user.did).unwrap();
    let url = format!(
        "{}/xrpc/com.atproto.sync.getRepo?did={}",
        devnet.info().discovery_url,
        user.did
    );
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let car = CarSlice::parse(&bytes, &CarLimits::REPO).unwrap();
    let commit = Commit::decode(car.get(&car.roots()[0]).unwrap()).unwrap();
    commit
        .verify(&signing_key(&devnet, &user.did).await)
        .unwrap();
    let mut tree = PartialMst::load(commit.data, &car).unwrap();
    let (cid, _) = devnet
        .pds()
        .record(&user.did, INBOX_COLLECTION, INBOX_RKEY)
        .unwrap()
        .unwrap();
    assert_eq!(tree.get("org.xmtp.inbox/self").unwrap(), Some(cid));
}

#[tokio::test]
async fn a_down_plc_directory_answers_503_until_it_comes_back() {
    let devnet = devnet().await;
    let user = devnet.create_user("outage").unwrap();
    let url = format!("{}/{}", devnet.info().plc_url, user.did);
    devnet.plc().set_faults(devnet::atmosphere::HttpFaults {
        unavailable: true,
        ..Default::default()
    });
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 503);
    devnet
        .plc()
        .set_faults(devnet::atmosphere::HttpFaults::default());
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_unverifiable_handle_is_claimed_in_plc_but_does_not_resolve() {
    let devnet = devnet().await;
    let user = devnet.create_user("dave").unwrap();
    devnet
        .pds()
        .claim_unverifiable_handle(&user.did, "impostor.devnet.test")
        .unwrap();
    let info = devnet.info();
    let doc = plc_document(&devnet, &user.did).await;
    assert_eq!(doc["alsoKnownAs"][0], "at://impostor.devnet.test");
    let url = format!(
        "{}/xrpc/com.atproto.identity.resolveHandle?handle=impostor.devnet.test",
        info.handle_resolver_url
    );
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "HandleNotFound");
}

#[tokio::test]
async fn well_known_atproto_did_answers_by_host_header() {
    let devnet = devnet().await;
    let user = devnet.create_user("erin").unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/.well-known/atproto-did", devnet.info().pds_url);
    let found = client
        .get(&url)
        .header("host", user.handle.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(found.text().await.unwrap(), user.did);
    let missing = client
        .get(&url)
        .header("host", "nobody.devnet.test")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
