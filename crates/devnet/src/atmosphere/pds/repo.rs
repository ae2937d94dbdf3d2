//! One account's repository on the PDS: the JSON values of its records beside
//! [`repo::RepoWriter`], which holds the records, the MST and the signed head and builds the
//! CAR files (Sync 1.1 commit diffs, record proofs, full exports).

use std::collections::BTreeMap;

use cid::Cid;
use repo::{PrivateKey, RepoWriter, WriteError};

use crate::atmosphere::error::AtmosphereError;
use crate::atmosphere::relay::CommitEvent;

pub(crate) use repo::Head;

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

    /// The write with its record DAG-CBOR encoded, as the repo writer takes it.
    fn encode(&self) -> Result<repo::Write, AtmosphereError> {
        Ok(match self {
            Write::Create { path, value } => repo::Write::Create {
                path: path.clone(),
                block: record_bytes(value)?,
            },
            Write::Update { path, value } => repo::Write::Update {
                path: path.clone(),
                block: record_bytes(value)?,
            },
            Write::Put { path, value } => repo::Write::Put {
                path: path.clone(),
                block: record_bytes(value)?,
            },
            Write::Delete { path } => repo::Write::Delete { path: path.clone() },
        })
    }

    fn value(&self) -> Option<&serde_json::Value> {
        match self {
            Write::Create { value, .. }
            | Write::Update { value, .. }
            | Write::Put { value, .. } => Some(value),
            Write::Delete { .. } => None,
        }
    }
}

impl From<WriteError> for AtmosphereError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::NotFound(path) => AtmosphereError::RecordNotFound(path),
            WriteError::Proof(_) => AtmosphereError::Repo(error.to_string()),
            WriteError::InvalidPath(_) | WriteError::WrittenTwice(_) | WriteError::Exists(_) => {
                AtmosphereError::InvalidRecord(error.to_string())
            }
        }
    }
}

/// A stored record.
#[derive(Debug, Clone)]
pub(crate) struct StoredRecord<'a> {
    pub(crate) cid: Cid,
    pub(crate) value: &'a serde_json::Value,
}

/// An account's repo.
#[derive(Debug, Clone)]
pub(crate) struct Repository {
    writer: RepoWriter,
    /// The JSON value of every record, by path (what `repo.getRecord` answers).
    values: BTreeMap<String, serde_json::Value>,
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

impl Repository {
    /// An empty repo without a commit yet.
    pub(crate) fn new(did: &str) -> Self {
        Repository {
            writer: RepoWriter::new(did),
            values: BTreeMap::new(),
        }
    }

    /// The signed head, if any commit was made.
    pub(crate) fn head(&self) -> Option<&Head> {
        self.writer.head()
    }

    /// A record by path.
    pub(crate) fn record(&self, path: &str) -> Option<StoredRecord<'_>> {
        let cid = self.writer.record(path)?.cid;
        let value = self.values.get(path)?;
        Some(StoredRecord { cid, value })
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
        let encoded = writes
            .iter()
            .map(Write::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let diff = self.writer.commit(&encoded, key, rev)?;
        for write in writes {
            match write.value() {
                Some(value) => self.values.insert(write.path().to_owned(), value.clone()),
                None => self.values.remove(write.path()),
            };
        }
        Ok(CommitEvent {
            prev_data: diff.since.is_some().then_some(diff.prev_data),
            repo: diff.did,
            rev: diff.rev,
            since: diff.since,
            commit: diff.commit,
            blocks: diff.blocks,
            ops: diff.ops,
        })
    }

    /// `com.atproto.sync.getRecord`: the commit, the MST nodes on `path`'s search path, and
    /// the record when present; a proof of absence otherwise.
    pub(crate) fn record_proof(&mut self, path: &str) -> Option<Vec<u8>> {
        self.writer.record_proof(path)
    }

    /// `com.atproto.sync.getRepo`: commit, every MST node and every record.
    pub(crate) fn full_car(&mut self) -> Option<Vec<u8>> {
        self.writer.full_car()
    }
}
