//! Every error path: bad parameters, not-found errors, unknown methods, wrong verbs, faults.

use crate::support::seed::{did, inbox};
use crate::support::server::TestServer;

const M: &str = "/xrpc/org.xmtp.identity";

async fn expect_error(s: &TestServer, target: &str, status: u16, name: &str) -> String {
    let r = s.get(target).await;
    let v = r.json();
    assert_eq!(
        (r.status, v["error"].as_str()),
        (status, Some(name)),
        "{target}: {v}"
    );
    let message = v["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    message
}

#[tokio::test]
async fn bad_parameters_are_invalid_request_with_a_helpful_message() {
    let s = TestServer::start().await;
    let cases = [
        (format!("{M}.resolveActor"), "actor is required"),
        (format!("{M}.resolveActor?actor="), "actor"),
        (format!("{M}.resolveActor?actor=not%20a%20handle"), "actor"),
        (
            format!("{M}.resolveActor?actor=a.test&actor=b.test"),
            "more than once",
        ),
        (
            format!("{M}.resolveActor?actor=a.test&includeUnverified=yes"),
            "true or false",
        ),
        (
            format!("{M}.resolveActor?actor=a.test&includeUnverified=1"),
            "true or false",
        ),
        (
            format!("{M}.resolveActor?actor=a.test&includeUnverified=TRUE"),
            "true or false",
        ),
        (format!("{M}.resolveActor?actor=%zz"), "percent"),
        (format!("{M}.resolveActors"), "actors is required"),
        (
            format!("{M}.resolveActors?actors=a.test&actors=bad_handle"),
            "actor",
        ),
        (format!("{M}.resolveInbox"), "inboxId is required"),
        (format!("{M}.resolveInbox?inboxId=abc"), "64"),
        (
            format!("{M}.resolveInbox?inboxId={}", "A".repeat(64)),
            "lowercase",
        ),
        (format!("{M}.resolveInboxes"), "inboxIds is required"),
        (
            format!("{M}.resolveInboxes?inboxIds={}&inboxIds=xyz", inbox(1)),
            "inboxId",
        ),
        (format!("{M}.listLinks?limit=0"), "between 1 and 1000"),
        (format!("{M}.listLinks?limit=1001"), "between 1 and 1000"),
        (format!("{M}.listLinks?limit=ten"), "integer"),
        (
            format!("{M}.listLinks?status=done"),
            "verified, pending, invalid or all",
        ),
        (format!("{M}.listLinks?cursor=bogus"), "cursor"),
        (format!("{M}.listLinks?cursor=v1.zz"), "cursor"),
    ];
    for (target, needle) in cases {
        let message = expect_error(&s, &target, 400, "InvalidRequest").await;
        assert!(
            message.contains(needle),
            "{target}: {message:?} lacks {needle:?}"
        );
    }
}

#[tokio::test]
async fn batch_calls_refuse_more_than_one_hundred_inbox_ids() {
    let s = TestServer::start().await;
    let q = |n: u32| {
        let p: Vec<String> = (0..n).map(|i| format!("inboxIds={}", inbox(i))).collect();
        format!("{M}.resolveInboxes?{}", p.join("&"))
    };
    assert_eq!(s.get(&q(100)).await.status, 200);
    expect_error(&s, &q(101), 400, "InvalidRequest").await;
}

#[tokio::test]
async fn unknown_actors_links_and_inboxes_have_their_own_errors() {
    let s = TestServer::start().await;
    let r = |a: &str| format!("{M}.resolveActor?actor={a}");
    expect_error(&s, &r(&did("stranger")), 400, "ActorNotFound").await;
    expect_error(&s, &r("nobody.test"), 400, "ActorNotFound").await;
    // Taken down: hidden as if unknown.
    expect_error(&s, &r(&did("hank")), 400, "ActorNotFound").await;
    expect_error(&s, &r("hank.test"), 400, "ActorNotFound").await;
    // Known account without a record.
    expect_error(&s, &r("nolan.test"), 400, "LinkNotFound").await;
    expect_error(&s, &r(&did("nolan")), 400, "LinkNotFound").await;
    // A handle that is not verified in the index is not answered, even for a known DID.
    expect_error(&s, &r("carol.test"), 400, "ActorNotFound").await;
    let i = |id: String| format!("{M}.resolveInbox?inboxId={id}");
    expect_error(&s, &i(inbox(99)), 400, "InboxNotFound").await;
    expect_error(&s, &i(inbox(2)), 400, "InboxNotFound").await;
    expect_error(&s, &i(inbox(4)), 400, "InboxNotFound").await;
}

#[tokio::test]
async fn unknown_methods_and_paths_are_not_found() {
    let s = TestServer::start().await;
    expect_error(&s, "/xrpc/org.xmtp.identity.nope", 404, "XRPCNotSupported").await;
    expect_error(
        &s,
        "/xrpc/app.bsky.actor.getProfile?actor=a.test",
        404,
        "XRPCNotSupported",
    )
    .await;
    expect_error(&s, "/nothing/here", 404, "NotFound").await;
}

#[tokio::test]
async fn wrong_http_method_on_a_query_is_405() {
    let s = TestServer::start().await;
    let mut c = s.conn().await;
    for target in [
        format!("{M}.resolveActor?actor=a.test"),
        "/xrpc/_health".into(),
    ] {
        let r = c.send("POST", &target, &[]).await.unwrap();
        assert_eq!(r.status, 405, "{target}");
        assert_eq!(r.json()["error"], "MethodNotAllowed");
        assert!(r.header("allow").unwrap().contains("GET"));
    }
    let r = c
        .send("HEAD", &format!("{M}.getStatus"), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_store_fault_is_a_500_with_a_generic_message() {
    let s = TestServer::start().await;
    // Break the index under the running server through a separate connection.
    rusqlite::Connection::open(s.store.path())
        .unwrap()
        .execute_batch("ALTER TABLE link_counts RENAME TO link_counts_gone")
        .unwrap();
    let r = s.get(&format!("{M}.getStatus")).await;
    assert_eq!(r.status, 500);
    let v = r.json();
    assert_eq!(v["error"], "InternalServerError");
    assert_eq!(v["message"], "internal error");
}
