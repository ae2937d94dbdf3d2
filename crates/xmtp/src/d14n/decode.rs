//! Unwrapping an originator envelope down to the identity update, as libxmtp's
//! `IdentityUpdateExtractor` does (`crates/xmtp_api_d14n/src/protocol/extractors/
//! identity_updates.rs`, `protocol/impls/protocol_envelopes.rs`): `OriginatorEnvelope.1`
//! → `UnsignedOriginatorEnvelope` (sequence id, timestamp) → `.4` `PayerEnvelope` → `.1`
//! `ClientEnvelope` → `.5` `IdentityUpdate`, kept encoded for replay.
//!
//! Routing checks (ours, stricter than libxmtp, which groups by the update's own inbox id):
//! the client envelope's `aad.target_topic` must be the topic asked for and the originator
//! must be the inbox log (1). A failed check is a bad node answer, never evidence.

use super::proto::{
    ClientEnvelope, INBOX_LOG_ORIGINATOR, OriginatorEnvelope, PayerEnvelope,
    UnsignedOriginatorEnvelope, client_envelope::Payload,
};
use crate::api::LogEntry;
use prost::Message as _;

/// libxmtp's `TopicKind::IdentityUpdatesV1` (`crates/xmtp_proto/src/types/topic.rs`).
pub const TOPIC_KIND_IDENTITY_UPDATES_V1: u8 = 2;

/// Why an envelope is unusable (a node fault: the caller retries, nothing is judged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A layer did not decode.
    #[error("{layer} does not decode: {msg}")]
    Decode {
        /// Which envelope layer.
        layer: &'static str,
        /// The prost error.
        msg: String,
    },
    /// No `aad` / target topic.
    #[error("client envelope has no authenticated data")]
    NoTopic,
    /// The payload is not an identity update.
    #[error("payload is not an identity update")]
    NotIdentityUpdate,
    /// Another originator than the inbox log.
    #[error("identity update from originator {0}, not the inbox log")]
    WrongOriginator(u32),
    /// Negative originator timestamp.
    #[error("negative originator timestamp")]
    BadTimestamp,
    /// The inbox id is not hex (no topic can be built for it).
    #[error("inbox id {0:?} is not hex")]
    BadInboxId(String),
}

/// The identity-update topic of an inbox, exactly as libxmtp's
/// `Topic::new_identity_update(hex::decode(inbox_id))`: the kind byte `0x02`, then the
/// hex-decoded inbox id.
pub fn identity_topic(inbox_id: &str) -> Result<Vec<u8>, EnvelopeError> {
    let raw = hex::decode(inbox_id).map_err(|_| EnvelopeError::BadInboxId(inbox_id.into()))?;
    let mut topic = Vec::with_capacity(raw.len() + 1);
    topic.push(TOPIC_KIND_IDENTITY_UPDATES_V1);
    topic.extend_from_slice(&raw);
    Ok(topic)
}

/// The inbox id of an identity-update topic (lower-case hex), if it is one.
pub fn inbox_of_topic(topic: &[u8]) -> Option<String> {
    match topic.split_first() {
        Some((&TOPIC_KIND_IDENTITY_UPDATES_V1, rest)) => Some(hex::encode(rest)),
        _ => None,
    }
}

/// One unwrapped identity-update envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityEnvelope {
    /// The client envelope's target topic.
    pub topic: Vec<u8>,
    /// The log entry (originator sequence id, originator time, encoded update).
    pub entry: LogEntry,
}

fn decode_err(layer: &'static str) -> impl FnOnce(prost::DecodeError) -> EnvelopeError {
    move |e| EnvelopeError::Decode {
        layer,
        msg: e.to_string(),
    }
}

/// Unwraps one originator envelope into its identity update.
pub fn unwrap_identity_update(env: &OriginatorEnvelope) -> Result<IdentityEnvelope, EnvelopeError> {
    let unsigned = UnsignedOriginatorEnvelope::decode(env.unsigned_originator_envelope.as_slice())
        .map_err(decode_err("UnsignedOriginatorEnvelope"))?;
    if unsigned.originator_node_id != INBOX_LOG_ORIGINATOR {
        return Err(EnvelopeError::WrongOriginator(unsigned.originator_node_id));
    }
    let ts = u64::try_from(unsigned.originator_ns).map_err(|_| EnvelopeError::BadTimestamp)?;
    let payer = PayerEnvelope::decode(unsigned.payer_envelope_bytes.as_slice())
        .map_err(decode_err("PayerEnvelope"))?;
    let client = ClientEnvelope::decode(payer.unsigned_client_envelope.as_slice())
        .map_err(decode_err("ClientEnvelope"))?;
    let topic = client
        .aad
        .map(|a| a.target_topic)
        .ok_or(EnvelopeError::NoTopic)?;
    let Some(Payload::IdentityUpdate(update)) = client.payload else {
        return Err(EnvelopeError::NotIdentityUpdate);
    };
    Ok(IdentityEnvelope {
        topic,
        entry: LogEntry {
            sequence_id: unsigned.originator_sequence_id,
            server_timestamp_ns: ts,
            update,
        },
    })
}

/// Wraps an encoded identity update the way an xmtpd node serves it (the devnet's d14n
/// node and the tests): client envelope with the inbox's topic → payer envelope →
/// unsigned originator envelope (originator 1) → originator envelope with a blockchain
/// proof (`tx_hash`), as xmtpd's identity-update indexer builds them.
pub fn wrap_identity_update(
    topic: &[u8],
    sequence_id: u64,
    timestamp_ns: u64,
    update: &[u8],
    tx_hash: Vec<u8>,
) -> OriginatorEnvelope {
    let client = ClientEnvelope {
        aad: Some(super::proto::AuthenticatedData {
            target_topic: topic.to_vec(),
            depends_on: None,
        }),
        payload: Some(Payload::IdentityUpdate(update.to_vec())),
    };
    let payer = PayerEnvelope {
        unsigned_client_envelope: client.encode_to_vec(),
        payer_signature: None,
        target_originator: INBOX_LOG_ORIGINATOR,
        message_retention_days: 0,
    };
    let unsigned = UnsignedOriginatorEnvelope {
        originator_node_id: INBOX_LOG_ORIGINATOR,
        originator_sequence_id: sequence_id,
        originator_ns: i64::try_from(timestamp_ns).unwrap_or(i64::MAX),
        payer_envelope_bytes: payer.encode_to_vec(),
        base_fee_picodollars: 0,
        congestion_fee_picodollars: 0,
        expiry_unixtime: 0,
    };
    OriginatorEnvelope {
        unsigned_originator_envelope: unsigned.encode_to_vec(),
        proof: Some(super::proto::originator_envelope::Proof::BlockchainProof(
            super::proto::BlockchainProof {
                transaction_hash: tx_hash,
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_is_kind_byte_then_raw_inbox_id() {
        let id = "ab".repeat(32);
        let t = identity_topic(&id).unwrap();
        assert_eq!(t.len(), 33);
        assert_eq!(t[0], 2);
        assert_eq!(&t[1..], &[0xab; 32]);
        assert_eq!(inbox_of_topic(&t).as_deref(), Some(id.as_str()));
        assert_eq!(
            identity_topic("zz"),
            Err(EnvelopeError::BadInboxId("zz".into()))
        );
    }

    #[test]
    fn wrap_then_unwrap_round_trips_and_routing_is_checked() {
        let topic = identity_topic(&"01".repeat(32)).unwrap();
        let env = wrap_identity_update(&topic, 7, 42, b"\x0a\x00", vec![1; 32]);
        let got = unwrap_identity_update(&env).unwrap();
        assert_eq!(got.topic, topic);
        assert_eq!(got.entry.sequence_id, 7);
        assert_eq!(got.entry.server_timestamp_ns, 42);
        assert_eq!(got.entry.update, b"\x0a\x00");
        // Another originator is refused, and says why.
        let mut unsigned =
            UnsignedOriginatorEnvelope::decode(env.unsigned_originator_envelope.as_slice())
                .unwrap();
        unsigned.originator_node_id = 100;
        let bad = OriginatorEnvelope {
            unsigned_originator_envelope: unsigned.encode_to_vec(),
            proof: None,
        };
        assert_eq!(
            unwrap_identity_update(&bad),
            Err(EnvelopeError::WrongOriginator(100))
        );
        let junk = OriginatorEnvelope {
            unsigned_originator_envelope: vec![0xff; 4],
            proof: None,
        };
        assert!(matches!(
            unwrap_identity_update(&junk),
            Err(EnvelopeError::Decode {
                layer: "UnsignedOriginatorEnvelope",
                ..
            })
        ));
    }

    /// Field numbers on the wire, by hand: `UnsignedOriginatorEnvelope{1: 1, 2: 5, 3: 9}`
    /// and `ClientEnvelope{1: {2: topic}, 5: update}` as libxmtp's generated code encodes
    /// them.
    #[test]
    fn wire_bytes_match_the_upstream_field_numbers() {
        let u = UnsignedOriginatorEnvelope {
            originator_node_id: 1,
            originator_sequence_id: 5,
            originator_ns: 9,
            ..Default::default()
        };
        assert_eq!(u.encode_to_vec(), vec![0x08, 1, 0x10, 5, 0x18, 9]);
        let c = ClientEnvelope {
            aad: Some(super::super::proto::AuthenticatedData {
                target_topic: vec![2, 0xaa],
                depends_on: None,
            }),
            payload: Some(Payload::IdentityUpdate(vec![0x18, 0x01])),
        };
        assert_eq!(
            c.encode_to_vec(),
            vec![0x0a, 4, 0x12, 2, 2, 0xaa, 0x2a, 2, 0x18, 0x01]
        );
    }
}
