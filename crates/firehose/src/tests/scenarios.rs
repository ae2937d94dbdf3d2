//! The seven indigo relay scenario files: every message converted to our wire bytes, run
//! through the gate and the processor in audit mode (`--verify-all-commits`), and the
//! accept/drop decision compared with the file's `drop`/`invalid` verdicts.

use bytes::Bytes;

use super::support::*;
use crate::gate::Verdict;
use crate::process::Outcome;

const FILES: [&str; 7] = [
    "account_lifecycle.json",
    "deactivation.json",
    "legacy.json",
    "post_lifecycle.json",
    "post_lifecycle_legacy.json",
    "rev_ordering.json",
    "seq_ordering.json",
];

async fn run_file(name: &str) -> usize {
    let v = json(&format!("peers/indigo/cmd/relay/testing/testdata/{name}"));
    let (_dir, store) = temp_store();
    let (mut gate, mut p, _jobs, _) = stages(&store, scenario_identity(&v), true);
    let msgs = v["messages"].as_array().unwrap();
    for (i, m) in msgs.iter().enumerate() {
        let bytes = Bytes::from(wire(&m["frame"]));
        let expect_drop = m["drop"].as_bool().unwrap() || m["invalid"].as_bool().unwrap();
        let outcome = match gate.on_message(bytes) {
            Verdict::Forward(item) => p.process(item).await,
            other => {
                assert!(expect_drop, "{name}[{i}]: gate dropped it: {other:?}");
                continue;
            }
        };
        let accepted = outcome == Outcome::Accepted;
        assert_eq!(!accepted, expect_drop, "{name}[{i}]: {outcome:?}");
    }
    msgs.len()
}

#[tokio::test]
async fn indigo_relay_scenarios_match_expected_verdicts() {
    let mut total = 0;
    for f in FILES {
        total += run_file(f).await;
    }
    assert_eq!(total, 4 + 8 + 3 + 6 + 6 + 4 + 4);
}

/// The same real frames through the whole in-memory pipeline: by default nothing is
/// verified (no commit touches org.xmtp.inbox), in audit mode every commit is, and both
/// persist the frame count and the cursor.
#[tokio::test]
async fn audit_mode_verifies_every_commit_and_default_mode_filters_them_all() {
    let v = json("peers/indigo/cmd/relay/testing/testdata/post_lifecycle.json");
    let frames: Vec<Bytes> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Bytes::from(wire(&m["frame"])))
        .collect();
    let last_seq = v["messages"].as_array().unwrap().last().unwrap()["frame"]["body"]["seq"]
        .as_i64()
        .unwrap();
    for (verify_all, expect_verified) in [(false, 0), (true, 6)] {
        let (_dir, store) = temp_store();
        let deps = deps(&store, scenario_identity(&v));
        let cfg = crate::FirehoseConfig {
            verify_all_commits: verify_all,
            ..Default::default()
        };
        let status = std::sync::Arc::new(crate::LiveStatus::new());
        let report = crate::ingest_frames(cfg, deps, status.clone(), frames.clone())
            .await
            .unwrap();
        assert_eq!(report.frames, 6);
        let fs = store.reader().firehose_state().await.unwrap();
        assert_eq!(
            (fs.frames, fs.commits_verified, fs.commits_rejected),
            (6, expect_verified, 0),
            "verify_all={verify_all}"
        );
        assert_eq!(fs.cursor, Some(last_seq));
        assert_eq!(status.cursor(), last_seq);
    }
}
