//! The SDK-produced replay scenarios (`testdata/xmtp/inbox-state-replay.json`) through both
//! decoders' paths: the v3 log entries as they are, and the same updates wrapped in d14n
//! envelopes, sent through a `QueryEnvelopesResponse` on the wire and unwrapped by
//! [`xmtp::d14n::unwrap_identity_update`]. The verdicts (state or error kind) must be
//! identical.
#![allow(clippy::unwrap_used)]

use prost::Message as _;
use serde_json::Value;
use xmtp::d14n::proto::QueryEnvelopesResponse;
use xmtp::d14n::{identity_topic, unwrap_identity_update, wrap_identity_update};
use xmtp::replay::replay_bytes;
use xmtp::signature::ScwResults;

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn replay_vectors_give_the_same_verdicts_through_v3_and_d14n() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/xmtp");
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/inbox-state-replay.json")).unwrap(),
    )
    .unwrap();
    let scw = ScwResults::new();
    let (mut scenarios, mut ok) = (0, 0);
    for sc in v["scenarios"].as_array().unwrap() {
        let name = sc["name"].as_str().unwrap();
        let raw: Vec<Vec<u8>> = sc["identityUpdates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| b64(u.as_str().unwrap()))
            .collect();
        let inbox = sc["sdk"]["state"]["inboxId"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| "00".repeat(32));
        let topic = identity_topic(&inbox).unwrap();
        let response = QueryEnvelopesResponse {
            envelopes: raw
                .iter()
                .enumerate()
                .map(|(i, u)| {
                    wrap_identity_update(&topic, i as u64 + 1, 1_000 + i as u64, u, vec![0xee; 32])
                })
                .collect(),
        };
        let wire = response.encode_to_vec();
        let back = QueryEnvelopesResponse::decode(wire.as_slice()).unwrap();
        let mut via_d14n = Vec::new();
        for (i, env) in back.envelopes.iter().enumerate() {
            let e = unwrap_identity_update(env).unwrap();
            assert_eq!(e.topic, topic, "{name}");
            assert_eq!(e.entry.sequence_id, i as u64 + 1, "{name}");
            via_d14n.push(e.entry.update);
        }
        assert_eq!(via_d14n, raw, "{name}: payload bytes changed");
        let v3 = replay_bytes(None, &raw, &scw);
        let d14n = replay_bytes(None, &via_d14n, &scw);
        assert_eq!(format!("{v3:?}"), format!("{d14n:?}"), "{name}");
        assert_eq!(v3.is_ok(), sc["sdk"]["ok"].as_bool().unwrap(), "{name}");
        ok += usize::from(d14n.is_ok());
        scenarios += 1;
    }
    assert_eq!(scenarios, 28);
    assert!(ok >= 12, "ok scenarios {ok}");
}
