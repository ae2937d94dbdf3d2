//! Service identity: an app calls us through its user's PDS. The PDS resolves
//! `did:web:HOST#xmtp_appview` through our `/.well-known/did.json`, then forwards the query
//! with a service-auth JWT; public data needs no check of that token, and the answer is the
//! same as a direct call's.

use crate::support::seed::did;
use crate::support::server::TestServer;

const SERVICE_DID: &str = "did:web:appview.example.com";

/// A service-auth JWT as a PDS mints one (ES256K, `iss` the user, `aud` our DID, `lxm` the
/// method). The signature is not checked by us for public data, so any bytes do.
const SERVICE_JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NksifQ.\
eyJpc3MiOiJkaWQ6cGxjOnVzZXIiLCJhdWQiOiJkaWQ6d2ViOmFwcHZpZXcuZXhhbXBsZS5jb20iLCJseG0iOiJvcmcueG10cC5pZGVudGl0eS5yZXNvbHZlQWN0b3IiLCJleHAiOjQxMDI0NDQ4MDB9.\
c2lnbmF0dXJl";

#[tokio::test]
async fn a_request_proxied_by_a_pds_gets_the_normal_answer() {
    let s = TestServer::start_with(|st| st.with_service_did(SERVICE_DID)).await;

    // What the PDS does first: resolve the DID and pick the service named by the fragment.
    let doc = s.get("/.well-known/did.json").await.json();
    let (doc_id, fragment) = "did:web:appview.example.com#xmtp_appview"
        .split_once('#')
        .unwrap();
    assert_eq!(doc["id"], doc_id);
    let service = doc["service"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sv| sv["id"] == format!("#{fragment}"))
        .expect("the #xmtp_appview service is declared");
    assert_eq!(service["type"], "XmtpAppView");
    assert_eq!(service["serviceEndpoint"], "https://appview.example.com");

    // Then it forwards the query with the proxy and service-auth headers.
    let target = format!(
        "/xrpc/org.xmtp.identity.resolveActor?actor={}",
        did("alice")
    );
    let direct = s.get(&target).await;
    let proxy = format!("{SERVICE_DID}#xmtp_appview");
    let bearer = format!("Bearer {SERVICE_JWT}");
    let proxied = s
        .conn()
        .await
        .send(
            "GET",
            &target,
            &[
                ("atproto-proxy", proxy.as_str()),
                ("authorization", bearer.as_str()),
                ("accept-encoding", "identity"),
                (
                    "atproto-accept-labelers",
                    "did:plc:ar7c4by46qjdydhdevvrndac;redact",
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(proxied.status, 200);
    assert_eq!(proxied.json(), direct.json());
    assert_eq!(proxied.json()["did"], did("alice"));

    // A token that is not even a JWT changes nothing either: public data, no auth check.
    let garbage = s
        .conn()
        .await
        .send(
            "GET",
            &target,
            &[
                ("atproto-proxy", proxy.as_str()),
                ("authorization", "Bearer not-a-jwt"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(garbage.status, 200);
    assert_eq!(garbage.json(), direct.json());
}
