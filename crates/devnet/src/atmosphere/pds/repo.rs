//! One account's repository on the PDS: records, the MST, the signed head commit, and the
//! CAR files built from them (Sync 1.1 commit diffs, record proofs, full exports).

use std::collections::{BTreeMap, BTreeSet};

use cid::Cid;
use repo::{Commit, Mst, Op, PrivateKey, cid_for_cbor, write_car};

use crate::atmosphere::error::AtmosphereError;
use crate::atmosphere::relay::{CommitEvent, CommitOp, OpAction};

/// One write of a commit.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Creates `collection/rkey` (fails if it exists).
    Create {
        /// `<collection>/<rkey>`.
        path: String,
        /// The record (a JSON object; DAG-CBOR encoded by the PDS).
        value: serde_json::Value,
    },
    /// Replaces an existing record (fails if it does not exist).
    Update {
        /// `<collection>/<rkey>`.
        path: String,
        /// The new record.
        value: serde_json::Value,
    },
    /// Creates the record, or replaces it if it exists (decided atomically in the commit).
    Put {
        /// `<collection>/<rkey>`.
        path: String,
        /// The record.
        value: serde_json::Value,
    },
    /// Removes an existing record (fails if it does not exist).
    Delete {
        /// `<collection>/<rkey>`.
        path: String,
    },
}

impl Write {
    fn path(&self) -> &str {
        match self {
            Write::Create { path, .. }
            | Write::Update { path, .. }
            | Write::Put { path, .. }
            | Write::Delete { path } => path,
        }
    }
}

/// A stored record.
#[derive(Debug, Clone)]
pub(crate) struct StoredRecord {
    pub(crate) cid: Cid,
    pub(crate) bytes: Vec<u8>,
    pub(crate) value: serde_json::Value,
}

/// The signed head of a repo.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) cid: Cid,
    pub(crate) block: Vec<u8>,
    pub(crate) rev: String,
}

/// An account's repo.
#[derive(Debug, Clone)]
pub(crate) struct Repository {
    did: String,
    records: BTreeMap<String, StoredRecord>,
    mst: Mst,
    head: Option<Head>,
}

fn record_bytes(value: &serde_json::Value) -> Result<Vec<u8>, AtmosphereError> {
    if !value.is_object() {
        return Err(AtmosphereError::InvalidRecord(
            "a record must be a JSON object".to_owned(),
        ));
    }
    serde_ipld_dagcbor::to_vec(value)
        .map_err(|error| AtmosphereError::InvalidRecord(format!("not DAG-CBOR encodable: {error}")))
}

fn check_path(path: &str) -> Result<(), AtmosphereError> {
    let valid = path.split_once('/').is_some_and(|(collection, rkey)| {
        syntax::Nsid::parse(collection).is_ok() && syntax::RecordKey::parse(rkey).is_ok()
    });
    if valid {
        Ok(())
    } else {
        Err(AtmosphereError::InvalidRecord(format!(
            "{path} is not <nsid>/<rkey>"
        )))
    }
}

impl Repository {
    /// An empty repo without a commit yet.
    pub(crate) fn new(did: &str) -> Self {
        Repository {
            did: did.to_owned(),
            records: BTreeMap::new(),
            mst: Mst::new(),
            head: None,
        }
    }

    /// The signed head, if any commit was made.
    pub(crate) fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// A record by path.
    pub(crate) fn record(&self, path: &str) -> Option<&StoredRecord> {
        self.records.get(path)
    }

    /// Applies `writes` as one commit signed with `key` at revision `rev`; returns the
    /// Sync 1.1 `#commit` (CAR slice with the commit, changed and covering MST nodes, the
    /// new records; ops with `cid`/`prev`; `since`; `prevData`).
    pub(crate) fn commit(
        &mut self,
        writes: &[Write],
        key: &PrivateKey,
        rev: String,
    ) -> Result<CommitEvent, AtmosphereError> {
        let mut records = self.records.clone();
        let mut mst = self.mst.clone();
        let mut ops = Vec::with_capacity(writes.len());
        let mut new_blocks: Vec<(Cid, Vec<u8>)> = Vec::new();
        let mut seen = BTreeSet::new();
        for write in writes {
            let path = write.path();
            check_path(path)?;
            if !seen.insert(path.to_owned()) {
                return Err(AtmosphereError::InvalidRecord(format!(
                    "{path} written twice"
                )));
            }
            let previous = records.get(path).map(|record| record.cid);
            let (action, cid) = match write {
                Write::Create { value, .. }
                | Write::Update { value, .. }
                | Write::Put { value, .. } => {
                    let is_create = match write {
                        Write::Put { .. } => previous.is_none(),
                        _ => matches!(write, Write::Create { .. }),
                    };
                    if is_create && previous.is_some() {
                        return Err(AtmosphereError::InvalidRecord(format!("{path} exists")));
                    }
                    if !is_create && previous.is_none() {
                        return Err(AtmosphereError::RecordNotFound(path.to_owned()));
                    }
                    let bytes = record_bytes(value)?;
                    let cid = cid_for_cbor(&bytes);
                    new_blocks.push((cid, bytes.clone()));
                    mst.insert(path, cid);
                    records.insert(
                        path.to_owned(),
                        StoredRecord {
                            cid,
                            bytes,
                            value: value.clone(),
                        },
                    );
                    let action = if is_create {
                        OpAction::Create
                    } else {
                        OpAction::Update
                    };
                    (action, Some(cid))
                }
                Write::Delete { .. } => {
                    if records.remove(path).is_none() {
                        return Err(AtmosphereError::RecordNotFound(path.to_owned()));
                    }
                    mst.delete(path);
                    (OpAction::Delete, None)
                }
            };
            ops.push(CommitOp {
                action,
                path: path.to_owned(),
                cid,
                prev: previous,
            });
        }
        let data = mst.root();
        let mut commit = Commit::new_unsigned(self.did.clone(), data, rev.clone());
        commit.sign(key);
        let (commit_cid, commit_block) = commit.to_block_with_cid();

        // The diff: every node new in this tree plus the nodes a consumer reads to invert
        // the ops (and that applying them reads), so that it can check `prevData` without
        // holding the repo.
        let proof_ops: Vec<Op<'_>> = ops.iter().map(CommitOp::as_mst_op).collect();
        let nodes = mst
            .commit_proof_blocks(&mut self.mst, &proof_ops)
            .map_err(|error| AtmosphereError::Repo(format!("commit proof: {error}")))?;
        let mut blocks: Vec<(Cid, Vec<u8>)> = vec![(commit_cid, commit_block.clone())];
        let mut included = BTreeSet::new();
        for (cid, bytes) in nodes.into_iter().chain(new_blocks) {
            if included.insert(cid) {
                blocks.push((cid, bytes));
            }
        }
        let car = write_car(
            &[commit_cid],
            blocks.iter().map(|(cid, bytes)| (cid, bytes.as_slice())),
        );
        let since = self.head.as_ref().map(|head| head.rev.clone());
        let prev_data = self.head.is_some().then(|| self.mst.root());
        self.records = records;
        self.mst = mst;
        self.head = Some(Head {
            cid: commit_cid,
            block: commit_block,
            rev: rev.clone(),
        });
        Ok(CommitEvent {
            repo: self.did.clone(),
            rev,
            since,
            commit: commit_cid,
            blocks: car,
            ops,
            prev_data,
        })
    }

    /// `com.atproto.sync.getRecord`: the commit, the MST nodes on `path`'s search path, and
    /// the record when present; a proof of absence otherwise.
    pub(crate) fn record_proof(&mut self, path: &str) -> Option<Vec<u8>> {
        let head = self.head.as_ref()?;
        let mut blocks = vec![(head.cid, head.block.clone())];
        blocks.extend(self.mst.proof_blocks(path));
        if let Some(record) = self.records.get(path) {
            blocks.push((record.cid, record.bytes.clone()));
        }
        Some(write_car(
            &[head.cid],
            blocks.iter().map(|(cid, bytes)| (cid, bytes.as_slice())),
        ))
    }

    /// `com.atproto.sync.getRepo`: commit, every MST node and every record.
    pub(crate) fn full_car(&mut self) -> Option<Vec<u8>> {
        let head = self.head.as_ref()?;
        let nodes = self.mst.blocks();
        let mut blocks: Vec<(&Cid, &[u8])> = vec![(&head.cid, head.block.as_slice())];
        blocks.extend(nodes.iter().map(|(cid, bytes)| (cid, bytes.as_slice())));
        blocks.extend(
            self.records
                .values()
                .map(|record| (&record.cid, record.bytes.as_slice())),
        );
        Some(write_car(&[head.cid], blocks))
    }
}
