//! The seven indigo relay scenario files: every message converted to our wire bytes, run
//! through the gate and the processor in audit mode (`--verify-all-commits`), and the
//! accept/drop decision compared with the file's `drop`/`invalid` verdicts, and the account
//! state change (active/inactive) with its `update` verdict.

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

/// (messages, updates) of one file.
async fn run_file(name: &str) -> (usize, usize) {
    let v = json(&format!("peers/indigo/cmd/relay/testing/testdata/{name}"));
    let (_dir, store) = temp_store();
    let (mut gate, mut p, _jobs, _) = stages(&store, scenario_identity(&v), true);
    let msgs = v["messages"].as_array().unwrap();
    let mut updates = 0;
    for (i, m) in msgs.iter().enumerate() {
        let bytes = Bytes::from(wire(&m["frame"]));
        let expect_drop = m["drop"].as_bool().unwrap() || m["invalid"].as_bool().unwrap();
        let expect_update = m["update"].as_bool().unwrap();
        let body = &m["frame"]["body"];
        let did = body["did"].as_str().or(body["repo"].as_str()).unwrap();
        let inactive_before = p.is_inactive(did);
        let outcome = match gate.on_message(bytes) {
            Verdict::Forward(item) => p.process(item).await,
            other => {
                assert!(expect_drop, "{name}[{i}]: gate dropped it: {other:?}");
                assert!(
                    !expect_update,
                    "{name}[{i}]: dropped, yet an update is expected"
                );
                continue;
            }
        };
        let accepted = outcome == Outcome::Accepted;
        assert_eq!(!accepted, expect_drop, "{name}[{i}]: {outcome:?}");
        assert_eq!(
            p.is_inactive(did) != inactive_before,
            expect_update,
            "{name}[{i}]: account state change (inactive {inactive_before} -> {})",
            p.is_inactive(did)
        );
        updates += usize::from(expect_update);
    }
    (msgs.len(), updates)
}

#[tokio::test]
async fn indigo_relay_scenarios_match_expected_verdicts() {
    let (mut total, mut updates) = (0, 0);
    for f in FILES {
        let (n, u) = run_file(f).await;
        total += n;
        updates += u;
    }
    assert_eq!(total, 4 + 8 + 3 + 6 + 6 + 4 + 4);
    // account_lifecycle: deleted; deactivation: deactivated, then reactivated.
    assert_eq!(updates, 1 + 2);
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
