//! The world controls: generated link verdicts and background traffic.
use std::time::Duration;

use devnet::world::{INBOX_COLLECTION, INBOX_RKEY};

use crate::support::*;

#[tokio::test]
async fn links_are_valid_forged_or_revoked_as_generated() {
    let devnet = devnet().await;
    let generated = devnet.generate(40, 20).unwrap();
    assert_eq!(generated.users.len(), 40);
    assert_eq!(
        (
            generated.valid.len(),
            generated.forged.len(),
            generated.revoked.len()
        ),
        (15, 3, 2)
    );
    let verdict = |did: &str| {
        let (_, record) = devnet
            .pds()
            .record(did, INBOX_COLLECTION, INBOX_RKEY)
            .unwrap()
            .unwrap();
        let inbox = devnet.xmtp().inbox(record["id"].as_str().unwrap()).unwrap();
        let signature = record["verificationSignature"].as_str().unwrap();
        inbox
            .installations
            .iter()
            .any(|key| xmtp::verify_did_signature(did, signature, &key.public_key()))
    };
    assert!(generated.valid.iter().all(|did| verdict(did)));
    assert!(!generated.forged.iter().any(|did| verdict(did)));
    assert!(!generated.revoked.iter().any(|did| verdict(did)));
}

#[tokio::test]
async fn live_traffic_moves_the_relay_until_dropped() {
    let devnet = devnet().await;
    devnet.generate(5, 2).unwrap();
    let before = devnet.relay().current_seq();
    let traffic = devnet.start_live_traffic(Duration::from_millis(2));
    // However slow the machine: wait (up to 30 s) for more than 10 events.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while devnet.relay().current_seq() <= before + 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "live traffic did not move the relay: {before} -> {}",
            devnet.relay().current_seq()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(traffic);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = devnet.relay().current_seq();
    assert!(after > before + 10, "{before} -> {after}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(devnet.relay().current_seq(), after, "stopped when dropped");
}
