//! `subscribeLinks` end to end: a link made on the devnet reaches a subscriber as `created`,
//! then `verified` with the view that `resolveActor` serves.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::harness::Env;

/// The header and body of one frame.
fn decode(bytes: &[u8]) -> (Value, Value) {
    let mut values = serde_ipld_dagcbor::de::Deserializer::from_slice(bytes).into_iter::<Value>();
    (
        values.next().unwrap().unwrap(),
        values.next().unwrap().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_made_on_the_devnet_arrives_as_created_then_verified() {
    let env = Env::start().await;
    let base = env.app.as_ref().unwrap().base.replacen("http", "ws", 1);
    // From seq 0: the whole (fresh) outbox, so nothing races the subscription.
    let url = format!("{base}/xrpc/org.xmtp.identity.subscribeLinks?cursor=0");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();

    let user = env.devnet.create_user("sam").unwrap();
    let (inbox_id, _signature) = env.devnet.link_inbox(&user.did).unwrap();

    let mut kinds = Vec::new();
    let mut last_seq = 0;
    let verified = loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("no event within 60 s")
            .expect("stream ended")
            .unwrap();
        let Message::Binary(bytes) = msg else {
            continue;
        };
        let (header, body) = decode(&bytes);
        assert_eq!(header["op"], 1, "{body}");
        assert_eq!(header["t"], "#link");
        let seq = body["seq"].as_i64().unwrap();
        assert!(seq > last_seq, "seq {seq} after {last_seq}");
        last_seq = seq;
        if body["did"] != user.did.as_str() {
            continue;
        }
        kinds.push(body["kind"].as_str().unwrap().to_owned());
        if body["kind"] == "verified" {
            break body;
        }
    };
    // A handle verified meanwhile may show up as an update in between.
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("created"),
        "{kinds:?}"
    );
    assert!(
        kinds[1..kinds.len() - 1].iter().all(|k| k == "updated"),
        "{kinds:?}"
    );
    assert_eq!(verified["link"]["inboxId"], inbox_id.as_str());
    assert_eq!(verified["link"]["status"], "verified");
    let served = env.link(&user.did).await.unwrap();
    assert_eq!(
        verified["link"]["installationKey"], served["installationKey"],
        "the event carries the key a client checks the signature with"
    );
    assert_eq!(verified["link"]["record"], served["record"]);
}
