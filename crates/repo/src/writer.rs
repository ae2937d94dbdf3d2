//! Writing a repository, as a PDS does: records, the MST, the signed head commit, and the
//! CAR files built from them (Sync 1.1 `#commit` diffs, `getRecord` proofs, full `getRepo`
//! exports). The one signed-commit builder of the workspace: the devnet's PDS and the
//! synthetic repos of `testkit` both write through [`RepoWriter`]. Pure, no IO.

use std::collections::{BTreeMap, BTreeSet};

use cid::Cid;

use crate::car::write_car;
use crate::cid_util::cid_for_cbor;
use crate::commit::Commit;
use crate::keys::PrivateKey;
use crate::mst::{InvertError, Mst, Op, OpAction};

/// One write of a commit. `block` is the record's DAG-CBOR encoding, stored as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Creates `path` (refused if it exists).
    Create {
        /// `<collection>/<rkey>`.
        path: String,
        /// The record, DAG-CBOR.
        block: Vec<u8>,
    },
    /// Replaces an existing record (refused if it does not exist).
    Update {
        /// `<collection>/<rkey>`.
        path: String,
        /// The new record, DAG-CBOR.
        block: Vec<u8>,
    },
    /// Creates the record, or replaces it if it exists.
    Put {
        /// `<collection>/<rkey>`.
        path: String,
        /// The record, DAG-CBOR.
        block: Vec<u8>,
    },
    /// Removes an existing record (refused if it does not exist).
    Delete {
        /// `<collection>/<rkey>`.
        path: String,
    },
}

impl Write {
    /// The record path written.
    pub fn path(&self) -> &str {
        match self {
            Write::Create { path, .. }
            | Write::Update { path, .. }
            | Write::Put { path, .. }
            | Write::Delete { path } => path,
        }
    }
}

/// Why a commit was refused. The repository is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The path is not `<nsid>/<record-key>`.
    #[error("{0} is not <nsid>/<rkey>")]
    InvalidPath(String),
    /// Two writes of one commit name the same path.
    #[error("{0} written twice")]
    WrittenTwice(String),
    /// A create of a path that holds a record.
    #[error("{0} exists")]
    Exists(String),
    /// An update or delete of a path that holds no record.
    #[error("record not found: {0}")]
    NotFound(String),
    /// The Sync 1.1 proof of the diff could not be built (a bug in the MST code).
    #[error("commit proof: {0}")]
    Proof(#[from] InvertError),
}

/// One `repoOp` of a commit, owning its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOp {
    /// create / update / delete.
    pub action: OpAction,
    /// `<collection>/<rkey>`.
    pub path: String,
    /// New record CID (None for deletes).
    pub cid: Option<Cid>,
    /// Previous record CID (None for creates).
    pub prev: Option<Cid>,
}

impl CommitOp {
    /// The op as the MST code takes it (to build and check commit proofs).
    pub fn as_mst_op(&self) -> Op<'_> {
        Op {
            action: self.action,
            path: &self.path,
            cid: self.cid,
            prev: self.prev,
        }
    }
}

/// A signed commit and its Sync 1.1 diff: what a `#commit` event carries, before a relay
/// gives it a `seq` and a `time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitDiff {
    /// The account DID.
    pub did: String,
    /// Revision (TID) of this commit.
    pub rev: String,
    /// Revision of the previous commit; None for the repo's first.
    pub since: Option<String>,
    /// CID of the signed commit block (the CAR's root).
    pub commit: Cid,
    /// The CAR slice: the commit, every MST node new in this tree or read to invert (or
    /// apply) the ops, and the new record blocks; each block once.
    pub blocks: Vec<u8>,
    /// The record operations, in the order written.
    pub ops: Vec<CommitOp>,
    /// The MST root before this commit (the empty tree's, or the preloaded tree's, for a
    /// repo's first commit; a PDS omits `prevData` when `since` is None).
    pub prev_data: Cid,
}

/// The signed head of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// CID of the signed commit.
    pub cid: Cid,
    /// The signed commit block.
    pub block: Vec<u8>,
    /// Its revision.
    pub rev: String,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its CID.
    pub cid: Cid,
    /// Its DAG-CBOR block.
    pub block: Vec<u8>,
}

/// One account's repository being written: records, MST and signed head. Cloning gives an
/// independent copy (a scratch repo to build a commit that is not kept).
#[derive(Debug, Clone)]
pub struct RepoWriter {
    did: String,
    records: BTreeMap<String, Record>,
    mst: Mst,
    head: Option<Head>,
}

/// Whether `path` is `<nsid>/<record-key>`.
fn valid_path(path: &str) -> bool {
    path.split_once('/').is_some_and(|(collection, rkey)| {
        syntax::Nsid::parse(collection).is_ok() && syntax::RecordKey::parse(rkey).is_ok()
    })
}

impl RepoWriter {
    /// An empty repository of `did`, without a commit yet.
    pub fn new(did: impl Into<String>) -> Self {
        RepoWriter {
            did: did.into(),
            records: BTreeMap::new(),
            mst: Mst::new(),
            head: None,
        }
    }

    /// The account DID.
    pub fn did(&self) -> &str {
        &self.did
    }

    /// The signed head, once a commit was made.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// The record at `path`.
    pub fn record(&self, path: &str) -> Option<&Record> {
        self.records.get(path)
    }

    /// Adds records without a commit: the contents of a pre-existing repository (to make
    /// the MST deep). Paths are taken as given; a later record replaces an earlier one.
    pub fn preload(&mut self, records: impl IntoIterator<Item = (String, Vec<u8>)>) {
        for (path, block) in records {
            let cid = cid_for_cbor(&block);
            self.mst.insert(&path, cid);
            self.records.insert(path, Record { cid, block });
        }
    }

    /// Applies `writes` as one commit at revision `rev` signed with `key`, and returns its
    /// Sync 1.1 diff. Refused writes leave the repository unchanged.
    pub fn commit(
        &mut self,
        writes: &[Write],
        key: &PrivateKey,
        rev: String,
    ) -> Result<CommitDiff, WriteError> {
        let mut seen = BTreeSet::new();
        for write in writes {
            let path = write.path();
            if !valid_path(path) {
                return Err(WriteError::InvalidPath(path.to_owned()));
            }
            if !seen.insert(path) {
                return Err(WriteError::WrittenTwice(path.to_owned()));
            }
            let exists = self.records.contains_key(path);
            match write {
                Write::Create { .. } if exists => return Err(WriteError::Exists(path.to_owned())),
                Write::Update { .. } | Write::Delete { .. } if !exists => {
                    return Err(WriteError::NotFound(path.to_owned()));
                }
                _ => {}
            }
        }

        let mut mst = self.mst.clone();
        let mut ops = Vec::with_capacity(writes.len());
        let mut new_records: Vec<(String, Option<Record>)> = Vec::with_capacity(writes.len());
        for write in writes {
            let path = write.path();
            let prev = self.records.get(path).map(|record| record.cid);
            let (action, record) = match write {
                Write::Create { block, .. }
                | Write::Update { block, .. }
                | Write::Put { block, .. } => {
                    let cid = cid_for_cbor(block);
                    mst.insert(path, cid);
                    let action = if prev.is_some() {
                        OpAction::Update
                    } else {
                        OpAction::Create
                    };
                    let record = Record {
                        cid,
                        block: block.clone(),
                    };
                    (action, Some(record))
                }
                Write::Delete { .. } => {
                    mst.delete(path);
                    (OpAction::Delete, None)
                }
            };
            ops.push(CommitOp {
                action,
                path: path.to_owned(),
                cid: record.as_ref().map(|record| record.cid),
                prev,
            });
            new_records.push((path.to_owned(), record));
        }

        // The diff: every node new in this tree plus the nodes a consumer reads to invert
        // the ops (and that applying them reads), so that it can check `prevData` without
        // holding the repo.
        let proof_ops: Vec<Op<'_>> = ops.iter().map(CommitOp::as_mst_op).collect();
        let nodes = mst.commit_proof_blocks(&mut self.mst, &proof_ops)?;
        let prev_data = self.mst.root();
        let mut commit = Commit::new_unsigned(self.did.clone(), mst.root(), rev.clone());
        commit.sign(key);
        let (commit_cid, commit_block) = commit.to_block_with_cid();

        let mut included = BTreeSet::from([commit_cid]);
        let mut blocks: Vec<(&Cid, &[u8])> = vec![(&commit_cid, &commit_block)];
        let record_blocks = new_records
            .iter()
            .filter_map(|(_, record)| record.as_ref())
            .map(|record| (&record.cid, record.block.as_slice()));
        for (cid, block) in nodes
            .iter()
            .map(|(cid, block)| (cid, block.as_slice()))
            .chain(record_blocks)
        {
            if included.insert(*cid) {
                blocks.push((cid, block));
            }
        }
        let car = write_car(&[commit_cid], blocks);

        self.mst = mst;
        for (path, record) in new_records {
            match record {
                Some(record) => self.records.insert(path, record),
                None => self.records.remove(&path),
            };
        }
        let since = self.head.replace(Head {
            cid: commit_cid,
            block: commit_block,
            rev: rev.clone(),
        });
        Ok(CommitDiff {
            did: self.did.clone(),
            rev,
            since: since.map(|head| head.rev),
            commit: commit_cid,
            blocks: car,
            ops,
            prev_data,
        })
    }

    /// `com.atproto.sync.getRecord`: a CAR of the signed head, the MST nodes on `path`'s
    /// search path, and the record when present (a proof of absence otherwise). None before
    /// the first commit.
    pub fn record_proof(&mut self, path: &str) -> Option<Vec<u8>> {
        let head = self.head.as_ref()?;
        let nodes = self.mst.proof_blocks(path);
        let mut blocks: Vec<(&Cid, &[u8])> = vec![(&head.cid, head.block.as_slice())];
        blocks.extend(nodes.iter().map(|(cid, block)| (cid, block.as_slice())));
        if let Some(record) = self.records.get(path) {
            blocks.push((&record.cid, record.block.as_slice()));
        }
        Some(write_car(&[head.cid], blocks))
    }

    /// `com.atproto.sync.getRepo`: a CAR of the signed head, every MST node and every
    /// record. None before the first commit.
    pub fn full_car(&mut self) -> Option<Vec<u8>> {
        let head = self.head.as_ref()?;
        let nodes = self.mst.blocks();
        let mut blocks: Vec<(&Cid, &[u8])> = vec![(&head.cid, head.block.as_slice())];
        blocks.extend(nodes.iter().map(|(cid, block)| (cid, block.as_slice())));
        blocks.extend(
            self.records
                .values()
                .map(|record| (&record.cid, record.block.as_slice())),
        );
        Some(write_car(&[head.cid], blocks))
    }
}
