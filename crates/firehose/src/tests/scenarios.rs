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
