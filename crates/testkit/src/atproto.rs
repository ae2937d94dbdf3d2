//! Synthetic, really signed repositories producing Sync 1.1 `#commit` frames (CAR slice
//! with the commit, the records and the MST proof nodes; `since`, `prevData`, op `prev`).
//! For tests, benchmarks and fixture generation.

use std::collections::HashMap;

use cid::Cid;
use repo::{Mst, Op, OpAction, PrivateKey, cid_for_cbor, write_car};

use wire::frame::{Commit, RepoOp};

/// The TID of `micros` with clock id 0.
fn tid(micros: u64) -> String {
    syntax::Tid::from_parts(micros, 0).to_string()
}

/// One write of a synthetic commit.
#[derive(Debug, Clone)]
pub enum Write {
    /// Create or update `path` with this DAG-CBOR record.
    Put(String, Vec<u8>),
    /// Delete `path`.
    Delete(String),
}

/// A synthetic repository.
#[derive(Debug)]
pub struct SynthRepo {
    /// The account DID.
    pub did: String,
    key: PrivateKey,
    mst: Mst,
    /// Record CIDs by path (for `prev`).
    values: HashMap<String, Cid>,
    last_rev: Option<String>,
    clock: u64,
    /// Record blocks by CID (for proofs).
    blocks: HashMap<Cid, Vec<u8>>,
    /// The last signed commit (CID, block).
    head: Option<(Cid, Vec<u8>)>,
}

impl SynthRepo {
    /// An empty repo; revs start at `start_micros` (unix µs) and advance 1 ms per commit.
    pub fn new(did: impl Into<String>, key: PrivateKey, start_micros: u64) -> Self {
        Self {
            did: did.into(),
            key,
            mst: Mst::new(),
            values: HashMap::new(),
            last_rev: None,
            clock: start_micros,
            blocks: HashMap::new(),
            head: None,
        }
    }

    /// Adds records without producing a commit (a pre-existing repo to make the MST deep).
    pub fn preload(&mut self, records: impl IntoIterator<Item = (String, Vec<u8>)>) {
        for (path, block) in records {
            let cid = cid_for_cbor(&block);
            self.mst.insert(&path, cid);
            self.values.insert(path, cid);
        }
    }

    /// The last rev committed.
    pub fn rev(&self) -> Option<&str> {
        self.last_rev.as_deref()
    }

    /// Applies `writes`, signs a new commit and returns it as a `#commit` body.
    pub fn commit(&mut self, seq: i64, writes: &[Write]) -> Commit {
        let mut old = self.mst.clone();
        let prev_data = old.root();
        let mut record_blocks: Vec<(Cid, Vec<u8>)> = Vec::new();
        let mut ops = Vec::new();
        for w in writes {
            match w {
                Write::Put(path, block) => {
                    let cid = cid_for_cbor(block);
                    let prev = self.values.insert(path.clone(), cid);
                    self.blocks.insert(cid, block.clone());
                    self.mst.insert(path, cid);
                    record_blocks.push((cid, block.clone()));
                    ops.push(RepoOp {
                        action: if prev.is_some() { "update" } else { "create" }.into(),
                        path: path.clone(),
                        cid: Some(cid),
                        prev,
                    });
                }
                Write::Delete(path) => {
                    let prev = self.values.remove(path);
                    self.mst.delete(path);
                    ops.push(RepoOp {
                        action: "delete".into(),
                        path: path.clone(),
                        cid: None,
                        prev,
                    });
                }
            }
        }
        let mst_ops: Vec<Op<'_>> = ops
            .iter()
            .filter_map(|o| {
                Some(Op {
                    action: OpAction::parse(&o.action)?,
                    path: &o.path,
                    cid: o.cid,
                    prev: o.prev,
                })
            })
            .collect();
        let proof = self
            .mst
            .commit_proof_blocks(&mut old, &mst_ops)
            .unwrap_or_default();
        let data = self.mst.root();
        self.clock += 1_000;
        let rev = tid(self.clock);
        let mut signed = repo::Commit::new_unsigned(self.did.clone(), data, rev.clone());
        signed.sign(&self.key);
        let (commit_cid, commit_block) = signed.to_block_with_cid();
        let mut blocks: Vec<(&Cid, &[u8])> = vec![(&commit_cid, &commit_block)];
        blocks.extend(record_blocks.iter().map(|(c, b)| (c, b.as_slice())));
        blocks.extend(proof.iter().map(|(c, b)| (c, b.as_slice())));
        let car = write_car(&[commit_cid], blocks);
        self.head = Some((commit_cid, commit_block.clone()));
        let since = self.last_rev.replace(rev.clone());
        Commit {
            seq,
            repo: self.did.clone(),
            rev,
            since,
            commit: commit_cid,
            blocks: car,
            ops,
            prev_data: Some(prev_data),
            time: "2026-07-04T12:00:00.000Z".into(),
            blobs: Vec::new(),
            too_big: false,
            rebase: false,
        }
    }
}

impl SynthRepo {
    /// A `com.atproto.sync.getRecord` CAR for `path` at the last commit: the signed commit,
    /// the MST search path, and the record when present (a proof of absence otherwise).
    /// `None` before the first commit.
    pub fn record_proof(&mut self, path: &str) -> Option<Vec<u8>> {
        let (commit_cid, commit_block) = self.head.clone()?;
        let nodes = self.mst.proof_blocks(path);
        let record = self
            .values
            .get(path)
            .and_then(|c| self.blocks.get(c).map(|b| (*c, b.clone())));
        let mut blocks: Vec<(&Cid, &[u8])> = vec![(&commit_cid, &commit_block)];
        blocks.extend(nodes.iter().map(|(c, b)| (c, b.as_slice())));
        if let Some((c, b)) = &record {
            blocks.push((c, b.as_slice()));
        }
        Some(write_car(&[commit_cid], blocks))
    }
}

/// A DAG-CBOR `org.xmtp.inbox` record.
pub fn inbox_record(inbox_id: &str, signature_b64: &str, created_at: &str) -> Vec<u8> {
    let mut w = repo::cbor::Encoder::new();
    w.map(4)
        .text("id")
        .text(inbox_id)
        .text("$type")
        .text("org.xmtp.inbox")
        .text("createdAt")
        .text(created_at)
        .text("verificationSignature")
        .text(signature_b64);
    w.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_round_trip_through_the_syntax_crate_and_sort_by_time() {
        let a = tid(1_700_000_000_000_000);
        let b = tid(1_700_000_000_000_000 + 1);
        let pa = syntax::Tid::parse(&a).unwrap();
        assert_eq!(pa.to_u64(), 1_700_000_000_000_000 << 10);
        assert!(a < b);
    }

    #[test]
    fn an_empty_repo_commits_and_proves_absence_verifiably() {
        let key = PrivateKey::generate(repo::Curve::K256);
        let pk = key.public_key();
        let mut r = SynthRepo::new("did:plc:empty", key, 1_780_000_000_000_000);
        // A first commit without writes: its CAR must still carry the (empty) root node.
        let c = r.commit(1, &[]);
        let v = repo::verify_commit(&c.blocks, &c.commit, &c.repo, &c.rev, &pk).unwrap();
        v.invert(&[], &repo::mst::empty_root()).unwrap();
        let car = r.record_proof("org.xmtp.inbox/self").unwrap();
        let proof = repo::verify_record_proof(&car, "did:plc:empty", "org.xmtp.inbox", "self", &pk)
            .unwrap();
        assert_eq!(proof.record, None);
    }
}
