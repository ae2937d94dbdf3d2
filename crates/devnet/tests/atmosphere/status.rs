//! Repo status and listings: the PDS and the relay describe the same repos the same way.
use serde_json::json;

use crate::support::*;

/// Every repo of `listRepos` at `base`, page by page (`limit=2`); also returns the page count.
async fn list_all(base: &str) -> (Vec<serde_json::Value>, usize) {
    let mut repos = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{base}/xrpc/com.atproto.sync.listRepos?limit=2");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = get_json(url).await;
        pages += 1;
        repos.extend(page["repos"].as_array().unwrap().iter().cloned());
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (repos, pages),
        }
    }
}

#[tokio::test]
async fn pds_and_relay_agree_on_listings_and_status_of_active_and_inactive_repos() {
    let devnet = devnet().await;
    let users: Vec<_> = (0..3)
        .map(|i| devnet.create_user(&format!("status{i}")).unwrap())
        .collect();
    devnet.link_inbox(&users[0].did).unwrap();
    devnet
        .set_account_status(&users[1].did, false, Some("takendown"))
        .unwrap();
    let info = devnet.info();

    for base in [&info.pds_url, &info.discovery_url] {
        let (mut repos, pages) = list_all(base).await;
        assert_eq!(pages, 2, "{base}");
        repos.sort_by_key(|repo| repo["did"].as_str().unwrap().to_owned());
        let mut expected: Vec<serde_json::Value> = users
            .iter()
            .map(|user| {
                let listing = devnet.relay().repo(&user.did).unwrap();
                let mut entry = json!({
                    "did": user.did, "head": listing.head, "rev": listing.rev, "active": true,
                });
                if user.did == users[1].did {
                    entry["active"] = json!(false);
                    entry["status"] = json!("takendown");
                }
                entry
            })
            .collect();
        expected.sort_by_key(|repo| repo["did"].as_str().unwrap().to_owned());
        assert_eq!(repos, expected, "{base}");

        let status = |did: &str| format!("{base}/xrpc/com.atproto.sync.getRepoStatus?did={did}");
        let taken = get_json(status(&users[1].did)).await;
        let rev = devnet.relay().repo(&users[1].did).unwrap().rev;
        assert_eq!(
            taken,
            json!({"did": users[1].did, "active": false, "status": "takendown", "rev": rev}),
            "{base}"
        );
        let missing = reqwest::get(format!("{base}/xrpc/com.atproto.sync.getRepoStatus"))
            .await
            .unwrap();
        assert_eq!(missing.status(), 400, "{base}");
        let body: serde_json::Value = missing.json().await.unwrap();
        assert_eq!(body["error"], "InvalidRequest", "{base}");
        assert_eq!(
            get_json(format!("{base}/xrpc/_health")).await,
            json!({"version": "devnet"})
        );
    }

    // Reads of an inactive repo's content fail on the PDS; the relay still lists its head.
    let latest =
        |base: &str, did: &str| format!("{base}/xrpc/com.atproto.sync.getLatestCommit?did={did}");
    let refused = reqwest::get(latest(&info.pds_url, &users[1].did))
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "RepoTakendown");
    let listing = devnet.relay().repo(&users[0].did).unwrap();
    for base in [&info.pds_url, &info.discovery_url] {
        let head = get_json(latest(base, &users[0].did)).await;
        assert_eq!(
            head,
            json!({"cid": listing.head, "rev": listing.rev}),
            "{base}"
        );
    }
    let unknown = get_json(latest(&info.discovery_url, "did:plc:unknown")).await;
    assert_eq!(unknown["error"], "RepoNotFound");
}
