//! Synthetic, really signed repositories producing Sync 1.1 `#commit` frames (CAR slice
//! with the commit, the records and the MST proof nodes; `since`, `prevData`, op `prev`).
//! For tests, benchmarks and fixture generation.

use repo::{PrivateKey, RepoWriter};

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
    /// Delete `path` (which must hold a record).
    Delete(String),
}

impl From<&Write> for repo::Write {
    fn from(write: &Write) -> Self {
        match write {
            Write::Put(path, block) => repo::Write::Put {
                path: path.clone(),
                block: block.clone(),
            },
            Write::Delete(path) => repo::Write::Delete { path: path.clone() },
        }
    }
}

/// A synthetic repository: a [`RepoWriter`] with its key and a clock for revs, whose
/// commits come out as `#commit` bodies.
#[derive(Debug)]
pub struct SynthRepo {
    /// The account DID.
    pub did: String,
    key: PrivateKey,
    writer: RepoWriter,
    clock: u64,
}

impl SynthRepo {
    /// An empty repo; revs start at `start_micros` (unix µs) and advance 1 ms per commit.
    pub fn new(did: impl Into<String>, key: PrivateKey, start_micros: u64) -> Self {
        let did = did.into();
        Self {
            writer: RepoWriter::new(did.clone()),
            did,
            key,
            clock: start_micros,
        }
    }

    /// Adds records without producing a commit (a pre-existing repo to make the MST deep).
    pub fn preload(&mut self, records: impl IntoIterator<Item = (String, Vec<u8>)>) {
        self.writer.preload(records);
    }

    /// The last rev committed.
    pub fn rev(&self) -> Option<&str> {
        self.writer.head().map(|head| head.rev.as_str())
    }

    /// Applies `writes`, signs a new commit and returns it as a `#commit` body (with
    /// `prevData` on every commit, the first one's being the tree it started from).
    ///
    /// # Panics
    /// When the writer refuses the writes (a bad path, a path written twice, a delete of a
    /// missing record): a bug in the test.
    pub fn commit(&mut self, seq: i64, writes: &[Write]) -> Commit {
        let writes: Vec<repo::Write> = writes.iter().map(repo::Write::from).collect();
        self.clock += 1_000;
        let diff = self
            .writer
            .commit(&writes, &self.key, tid(self.clock))
            .unwrap_or_else(|error| panic!("synthetic commit of {}: {error}", self.did));
        let ops = diff
            .ops
            .into_iter()
            .map(|op| RepoOp {
                action: op.action.as_str().to_owned(),
                path: op.path,
                cid: op.cid,
                prev: op.prev,
            })
            .collect();
        Commit {
            seq,
            repo: diff.did,
            rev: diff.rev,
            since: diff.since,
            commit: diff.commit,
            blocks: diff.blocks,
            ops,
            prev_data: Some(diff.prev_data),
            time: "2026-07-04T12:00:00.000Z".into(),
            blobs: Vec::new(),
            too_big: false,
            rebase: false,
        }
    }

    /// A `com.atproto.sync.getRecord` CAR for `path` at the last commit: the signed commit,
    /// the MST search path, and the record when present (a proof of absence otherwise).
    /// `None` before the first commit.
    pub fn record_proof(&mut self, path: &str) -> Option<Vec<u8>> {
        self.writer.record_proof(path)
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
