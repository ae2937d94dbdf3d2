//! Every line of the interop syntax fixtures for DIDs, handles and at-identifiers, through the
//! HTTP layer: valid lines are never `InvalidRequest`, invalid ones always are.

use crate::support::http::{Conn, encode};
use crate::support::server::TestServer;

fn fixture(file: &str) -> Vec<String> {
    let path = crate::support::testdata("atproto-interop-tests/syntax").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("syntax fixture missing at {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// True when the server refused the value as a bad parameter.
async fn rejected(c: &mut Conn, target: String) -> bool {
    let r = c.get(&target).await.unwrap();
    let v = r.json();
    match (r.status, v["error"].as_str()) {
        (400, Some("InvalidRequest")) => true,
        (200, _) => false,
        (400, Some("ActorNotFound" | "LinkNotFound" | "InboxNotFound")) => false,
        other => panic!("{target}: unexpected answer {other:?} {v}"),
    }
}

/// Sends each line as `actor` (resolveActor) and as `actors` (resolveActors); returns how many
/// lines were rejected.
async fn run_actor_lines(
    c: &mut Conn,
    lines: &[String],
    expect_rejected: impl Fn(&str) -> bool,
) -> usize {
    let mut n_rejected = 0;
    for line in lines {
        let single = format!(
            "/xrpc/org.xmtp.identity.resolveActor?actor={}",
            encode(line)
        );
        let batch = format!(
            "/xrpc/org.xmtp.identity.resolveActors?actors=alice.test&actors={}",
            encode(line)
        );
        let got = rejected(c, single).await;
        assert_eq!(got, expect_rejected(line), "actor {line:?}");
        assert_eq!(rejected(c, batch).await, got, "actors {line:?}");
        // No DID or handle is an inbox ID.
        let inbox = format!(
            "/xrpc/org.xmtp.identity.resolveInbox?inboxId={}",
            encode(line)
        );
        assert!(rejected(c, inbox).await, "inboxId {line:?}");
        n_rejected += usize::from(got);
    }
    n_rejected
}

#[tokio::test]
async fn every_did_handle_and_at_identifier_fixture_line_is_judged_right_over_http() {
    let s = TestServer::start().await;
    let mut c = s.conn().await;
    let mut total = 0;
    for (name, n_valid, n_invalid) in [
        ("did", 24, 18),
        ("handle", 71, 48),
        ("atidentifier", 11, 22),
    ] {
        let valid = fixture(&format!("{name}_syntax_valid.txt"));
        let invalid = fixture(&format!("{name}_syntax_invalid.txt"));
        assert_eq!((valid.len(), invalid.len()), (n_valid, n_invalid), "{name}");
        assert_eq!(
            run_actor_lines(&mut c, &valid, |_| false).await,
            0,
            "{name} valid"
        );
        // `actor` is an at-identifier: an invalid DID that does not start with `did:` is
        // judged as a handle (only `did.method.val` is one); everything else must be refused.
        let refused = run_actor_lines(&mut c, &invalid, |l| {
            l.starts_with("did:") || syntax::Handle::parse(l).is_err()
        })
        .await;
        let expected = if name == "did" {
            n_invalid - 1
        } else {
            n_invalid
        };
        assert_eq!(refused, expected, "{name} invalid");
        total += valid.len() + invalid.len();
    }
    assert_eq!(total, 194);
}

#[tokio::test]
async fn inbox_ids_are_exactly_64_lowercase_hex_over_http() {
    let s = TestServer::start().await;
    let mut c = s.conn().await;
    let valid = [
        "0".repeat(64),
        "f".repeat(64),
        "0123456789abcdef".repeat(4),
        format!("{:064x}", 1),
    ];
    let invalid = [
        String::new(),
        "0".repeat(63),
        "0".repeat(65),
        "F".repeat(64),
        "0123456789ABCDEF".repeat(4),
        format!("{}g", "0".repeat(63)),
        format!("0x{}", "0".repeat(62)),
        format!(" {}", "0".repeat(63)),
        format!("{} ", "0".repeat(64)),
        format!("{}é", "0".repeat(62)),
    ];
    for id in &valid {
        for target in [
            format!(
                "/xrpc/org.xmtp.identity.resolveInbox?inboxId={}",
                encode(id)
            ),
            format!(
                "/xrpc/org.xmtp.identity.resolveInboxes?inboxIds={}",
                encode(id)
            ),
        ] {
            assert!(!rejected(&mut c, target).await, "{id:?}");
        }
    }
    for id in &invalid {
        for target in [
            format!(
                "/xrpc/org.xmtp.identity.resolveInbox?inboxId={}",
                encode(id)
            ),
            format!(
                "/xrpc/org.xmtp.identity.resolveInboxes?inboxIds={}",
                encode(id)
            ),
        ] {
            assert!(rejected(&mut c, target).await, "{id:?}");
        }
    }
    assert_eq!(valid.len() + invalid.len(), 14);
}
