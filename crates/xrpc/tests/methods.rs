//! Every query method's success paths over the seeded index.

use crate::support::seed::{did, inbox};
use crate::support::server::{TestServer, live};

const M: &str = "/xrpc/org.xmtp.identity";

#[tokio::test]
async fn resolve_actor_by_did_returns_the_full_link_view() {
    let s = TestServer::start().await;
    let r = s
        .get(&format!("{M}.resolveActor?actor={}", did("alice")))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let v = r.json();
    assert_eq!(v["did"], did("alice"));
    assert_eq!(v["handle"], "alice.test");
    assert_eq!(v["inboxId"], inbox(1));
    assert_eq!(v["status"], "verified");
    assert_eq!(v["reason"], serde_json::Value::Null);
    assert_eq!(
        v["record"]["uri"],
        format!("at://{}/org.xmtp.inbox/self", did("alice"))
    );
    assert_eq!(v["record"]["cid"], testkit::ids::cid("bafyalice").as_str());
    assert_eq!(v["record"]["verificationSignature"], "c2ln");
    assert_eq!(v["record"]["createdAt"], "2026-01-01T00:00:00.000Z");
    assert_eq!(v["installationKey"], "ab".repeat(32));
    assert!(v["verifiedAt"].is_string());
    assert!(v["indexedAt"].is_string());
}

#[tokio::test]
async fn resolve_actor_by_handle_goes_through_the_verified_handle() {
    let s = TestServer::start().await;
    let r = s.get(&format!("{M}.resolveActor?actor=Alice.TEST")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["did"], did("alice"));
}

#[tokio::test]
async fn resolve_actor_shows_unverified_links_only_when_asked() {
    let s = TestServer::start().await;
    let r = s.get(&format!("{M}.resolveActor?actor=pat.test")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "LinkNotFound");
    let r = s
        .get(&format!(
            "{M}.resolveActor?actor=pat.test&includeUnverified=true"
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "pending");
    let r = s
        .get(&format!(
            "{M}.resolveActor?actor={}&includeUnverified=true",
            did("ivan")
        ))
        .await;
    assert_eq!(r.json()["status"], "invalid");
    assert_eq!(r.json()["reason"], "signature does not verify");
    let r = s
        .get(&format!(
            "{M}.resolveActor?actor={}&includeUnverified=false",
            did("ivan")
        ))
        .await;
    assert_eq!(r.json()["error"], "LinkNotFound");
}

#[tokio::test]
async fn resolve_actors_keeps_order_and_leaves_unknowns_out() {
    let s = TestServer::start().await;
    let q = format!(
        "{M}.resolveActors?actors={}&actors=alice.test&actors=nobody.test&actors={}&actors={}&actors={}",
        did("carol"),
        did("stranger"),
        did("pat"),
        did("hank")
    );
    let r = s.get(&q).await;
    assert_eq!(r.status, 200);
    let dids: Vec<String> = r.json()["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["did"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(dids, vec![did("carol"), did("alice")]);
    let r = s.get(&format!("{q}&includeUnverified=true")).await;
    assert_eq!(r.json()["links"].as_array().unwrap().len(), 3);
}

/// `resolveActors` against `resolveActor` asked once per actor: the batch body is the single
/// bodies in input order, each DID once (a handle and its DID count once, where first met),
/// DIDs percent-encoded or not, unknown and hidden actors left out.
#[tokio::test]
async fn resolve_actors_is_resolve_actor_once_per_distinct_did() {
    let s = TestServer::start().await;
    let actors = [
        did("pat"),
        "alice.test".to_owned(),
        did("carol"),
        did("alice"),
        "did%3Aplc%3Acarol".to_owned(),
        did("ivan"),
        "PAT.test".to_owned(),
        did("hank"),
        "hank.test".to_owned(),
        did("nolan"),
        "nobody.test".to_owned(),
        did("stranger"),
        "did:web:example.com".to_owned(),
        did("ivan"),
    ];
    for include in [false, true] {
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::new();
        for actor in &actors {
            let one = s
                .get(&format!(
                    "{M}.resolveActor?actor={actor}&includeUnverified={include}"
                ))
                .await;
            if one.status != 200 {
                continue;
            }
            if seen.insert(one.json()["did"].as_str().unwrap().to_owned()) {
                items.push(String::from_utf8(one.body).unwrap());
            }
        }
        let query: Vec<String> = actors.iter().map(|a| format!("actors={a}")).collect();
        let batch = s
            .get(&format!(
                "{M}.resolveActors?{}&includeUnverified={include}",
                query.join("&")
            ))
            .await;
        assert_eq!(batch.status, 200);
        assert_eq!(
            String::from_utf8(batch.body).unwrap(),
            format!("{{\"links\":[{}]}}", items.join(",")),
            "includeUnverified={include}"
        );
        assert_eq!(items.len(), if include { 4 } else { 2 });
    }
}

#[tokio::test]
async fn resolve_actors_takes_exactly_up_to_one_hundred() {
    let s = TestServer::start().await;
    let many = |n: usize| {
        let params: Vec<String> = (0..n).map(|i| format!("actors=did:plc:x{i}")).collect();
        format!("{M}.resolveActors?{}", params.join("&"))
    };
    let r = s.get(&many(100)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["links"], serde_json::json!([]));
    let r = s.get(&many(101)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "InvalidRequest");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("at most 100")
    );
}

#[tokio::test]
async fn resolve_inbox_lists_every_verified_did_of_the_inbox() {
    let s = TestServer::start().await;
    let r = s
        .get(&format!("{M}.resolveInbox?inboxId={}", inbox(1)))
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["inboxId"], inbox(1));
    let dids: Vec<&str> = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["did"].as_str().unwrap())
        .collect();
    assert_eq!(dids, vec![did("alice"), did("carol")]);
    let r = s
        .get(&format!(
            "{M}.resolveInbox?inboxId={}&includeUnverified=true",
            inbox(2)
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["links"][0]["did"], did("pat"));
}

#[tokio::test]
async fn resolve_inboxes_answers_each_known_inbox_once() {
    let s = TestServer::start().await;
    let q = format!(
        "{M}.resolveInboxes?inboxIds={}&inboxIds={}&inboxIds={}&inboxIds={}&inboxIds={}",
        inbox(2),
        inbox(1),
        inbox(99),
        inbox(1),
        inbox(4)
    );
    let v = s.get(&q).await.json();
    let inboxes = v["inboxes"].as_array().unwrap();
    assert_eq!(inboxes.len(), 1, "{v}");
    assert_eq!(inboxes[0]["inboxId"], inbox(1));
    assert_eq!(inboxes[0]["links"].as_array().unwrap().len(), 2);
    let v = s.get(&format!("{q}&includeUnverified=true")).await.json();
    let ids: Vec<&str> = v["inboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["inboxId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![inbox(2), inbox(1)]);
}

#[tokio::test]
async fn list_links_pages_through_each_status_in_did_order() {
    let s = TestServer::start().await;
    let r = s.get(&format!("{M}.listLinks")).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let dids: Vec<&str> = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["did"].as_str().unwrap())
        .collect();
    assert_eq!(dids, vec![did("alice"), did("carol")]);
    assert!(v.get("cursor").is_none(), "no cursor on the last page: {v}");

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("{M}.listLinks?status=all&limit=1");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={}", crate::support::http::encode(c)));
        }
        let v = s.get(&q).await.json();
        for l in v["links"].as_array().unwrap() {
            seen.push(l["did"].as_str().unwrap().to_owned());
        }
        match v.get("cursor").and_then(|c| c.as_str()) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![did("alice"), did("carol"), did("ivan"), did("pat")]
    );
    for (status, expect) in [("pending", did("pat")), ("invalid", did("ivan"))] {
        let v = s
            .get(&format!("{M}.listLinks?status={status}&limit=1000"))
            .await
            .json();
        assert_eq!(v["links"].as_array().unwrap().len(), 1);
        assert_eq!(v["links"][0]["did"], expect);
    }
}

#[tokio::test]
async fn get_status_reports_firehose_counts_and_version() {
    let s = TestServer::start_with(|st| st.with_live(live(true, Some(1.5)))).await;
    let r = s.get(&format!("{M}.getStatus")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({
            "firehose": {
                "cursor": 1234, "connected": true, "lagSeconds": 2,
                "frames": 10, "commitsVerified": 5, "commitsRejected": 1, "resyncPending": 0
            },
            "counts": {"verified": 2, "pending": 1, "invalid": 1},
            "version": "1.2.3-test"
        })
    );
    let s = TestServer::start().await;
    let v = s.get(&format!("{M}.getStatus")).await.json();
    assert_eq!(v["firehose"]["connected"], false);
    assert_eq!(v["firehose"]["lagSeconds"], serde_json::Value::Null);
}

#[tokio::test]
async fn queries_see_new_writes_at_once() {
    let s = TestServer::start().await;
    let q = format!("{M}.resolveActor?actor={}", did("newbie"));
    assert_eq!(s.get(&q).await.json()["error"], "ActorNotFound");
    s.store
        .writer()
        .apply(store::Batch::of(vec![
            crate::support::seed::put(&did("newbie"), "c", &inbox(7)),
            crate::support::seed::verdict(&did("newbie"), "c", store::Status::Verified),
        ]))
        .await
        .unwrap();
    assert_eq!(s.get(&q).await.json()["did"], did("newbie"));
}
