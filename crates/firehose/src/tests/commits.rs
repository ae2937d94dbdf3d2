//! The four captured pre-Sync-1.1 commits from indigo (`firehose_commit_*.json`): they
//! decode, the filter agrees with the full decode, and the structural checks pass (CAR
//! blocks hash-checked, first root = commit, commit did/rev = envelope). They carry no
//! `prevData`, so no inversion applies; without their DID documents the signature check
//! ends in a counted `no_key` rejection, never a panic.

use bytes::Bytes;
use serde_json::json;

use super::support::*;
use crate::frame::Frame;
use crate::gate::Verdict;
use crate::process::Outcome;
use crate::process::envelope;
use sync::commit::parse_commit;
use sync::{Reject, StaticIdentity};

const SEQS: [&str; 4] = ["4621317030", "4621317332", "4621332152", "4623075231"];

#[tokio::test]
async fn captured_commits_decode_pass_structure_checks_and_reject_without_key() {
    let (_dir, store) = temp_store();
    let (mut gate, mut p, _jobs, _) =
        stages(&store, std::sync::Arc::new(StaticIdentity::new()), true);
    let mut n = 0;
    for seq in SEQS {
        let body = json(&format!(
            "peers/indigo/atproto/repo/testdata/firehose_commit_{seq}.json"
        ));
        let bytes = wire(&json!({"header": {"op": 1, "t": "#commit"}, "body": body}));
        let Frame::Commit(c) = Frame::decode(&bytes).unwrap() else {
            panic!("not a commit")
        };
        assert_eq!(c.seq.to_string(), seq);
        assert!(c.prev_data.is_none());
        let peeked = wire::peek(&bytes).unwrap();
        assert_eq!(peeked.n_ops as usize, c.ops.len());
        assert_eq!(
            peeked.did.map(|d| d.as_str().unwrap()),
            Some(c.repo.as_str())
        );
        let parsed = parse_commit(&envelope(&c), u64::MAX / 2).unwrap();
        assert_eq!(parsed.signed().did, c.repo);
        let Verdict::Forward(item) = gate.on_message(Bytes::from(bytes)) else {
            panic!("dropped")
        };
        let outcome = p.process(item).await;
        assert!(
            matches!(outcome, Outcome::Rejected(Reject::NoKey(_))),
            "{outcome:?}"
        );
        n += 1;
    }
    assert_eq!(n, 4);
}
