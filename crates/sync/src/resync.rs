//! Fetch-and-verify of one repo's `org.xmtp.inbox/self` via `com.atproto.sync.getRecord`,
//! checked exactly like a firehose commit: the CAR's blocks hash to their CIDs, the signed
//! commit names the DID, its signature verifies with the DID's `#atproto` key (refreshed once
//! on failure, for key rotations), and the MST path from the commit's `data` proves the
//! record or its absence.
//!
//! Shared by the firehose's resync worker, the `backfill` crate and the `verify` command, so
//! that all three accept exactly the same evidence.

use store::{Change, RecordInput};
use syntax::{Did, Tid};

use crate::admit::{InboxChange, admit_record_proof};
use crate::proofs::read_inbox_proof;
use crate::source::{FetchedRecord, IdentitySource, LookupError, RecordFetcher};

/// Why a fetch gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResyncError {
    /// Network or server trouble (timeouts, 5xx, 429, PLC down): retry later. Never evidence.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying will not help: the DID does not resolve, or the proof or its signature is bad.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl ResyncError {
    /// True for faults that say nothing about the repo (retry later).
    pub fn is_transient(&self) -> bool {
        matches!(self, ResyncError::Transient(_))
    }
}

impl From<LookupError> for ResyncError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::NotFound(s) => ResyncError::Permanent(s),
            LookupError::Transient(s) => ResyncError::Transient(s),
        }
    }
}

/// The signed commit a proof was checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitState {
    /// The commit's rev.
    pub rev: Tid,
    /// The MST root (`data`) CID.
    pub data_cid: syntax::Cid,
    /// The signed commit's CID.
    pub commit_cid: syntax::Cid,
}

/// What the PDS proved about `org.xmtp.inbox/self`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxOutcome {
    /// The record is in the signed repo (parsed leniently: `malformed` says why not usable).
    Present {
        /// The commit that proves it.
        commit: CommitState,
        /// The record.
        record: RecordInput,
    },
    /// The signed repo proves the record absent.
    Absent {
        /// The commit that proves it.
        commit: CommitState,
    },
    /// The PDS said `RecordNotFound` without a proof: not evidence, nothing changes.
    Unproven,
}

/// A verified `getRecord` answer for one DID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedInbox {
    /// The DID asked about.
    pub did: Did,
    /// The PDS that answered.
    pub pds: String,
    /// What it proved.
    pub outcome: InboxOutcome,
}

impl FetchedInbox {
    /// The commit the proof was checked against, when there is a proof.
    pub fn commit(&self) -> Option<&CommitState> {
        match &self.outcome {
            InboxOutcome::Present { commit, .. } | InboxOutcome::Absent { commit } => Some(commit),
            InboxOutcome::Unproven => None,
        }
    }

    /// The store changes this answer implies: the record put (or deleted, for a proof of
    /// absence) at the commit's rev, and the repo's Sync 1.1 state. Empty when unproven.
    pub fn changes(&self) -> Vec<Change> {
        let did = self.did.clone();
        let (commit, first) = match &self.outcome {
            InboxOutcome::Present { commit, record } => (
                commit,
                Change::PutRecord {
                    did: did.clone(),
                    rev: Some(commit.rev.clone()),
                    record: record.clone(),
                },
            ),
            InboxOutcome::Absent { commit } => (
                commit,
                Change::DeleteRecord {
                    did: did.clone(),
                    rev: Some(commit.rev.clone()),
                },
            ),
            InboxOutcome::Unproven => return Vec::new(),
        };
        vec![
            first,
            Change::RepoState {
                did,
                rev: commit.rev.clone(),
                data_cid: commit.data_cid.clone(),
                commit_cid: commit.commit_cid.clone(),
            },
        ]
    }
}

/// Resolves `did`'s PDS, fetches `org.xmtp.inbox/self` with `sync.getRecord` and checks the
/// proof (CIDs, DID, signature with one key refresh on failure, MST path, rev rule).
pub async fn fetch_inbox_changes(
    identity: &dyn IdentitySource,
    fetcher: &dyn RecordFetcher,
    did: &Did,
) -> Result<FetchedInbox, ResyncError> {
    let pds = identity.pds_endpoint(did).await?;
    fetch_inbox_at(identity, fetcher, did, &pds).await
}

/// [`fetch_inbox_changes`] once the PDS is known (callers that attribute faults to hosts).
pub async fn fetch_inbox_at(
    identity: &dyn IdentitySource,
    fetcher: &dyn RecordFetcher,
    did: &Did,
    pds: &str,
) -> Result<FetchedInbox, ResyncError> {
    let pds = pds.to_owned();
    let bytes = match fetcher.get_record(&pds, did).await? {
        FetchedRecord::Car(b) => b,
        FetchedRecord::NotFound => {
            return Ok(FetchedInbox {
                did: did.clone(),
                pds,
                outcome: InboxOutcome::Unproven,
            });
        }
    };
    let proof = read_inbox_proof(&bytes, did).map_err(ResyncError::Permanent)?;
    let key = identity.signing_key(did, false).await?;
    if proof.signed.verify(&key).is_err() {
        let key = identity.signing_key(did, true).await?;
        proof.signed.verify(&key).map_err(|_| {
            ResyncError::Permanent("bad commit signature in getRecord proof".into())
        })?;
    }
    let record = proof.record.as_ref().map(|(cid, b)| (cid, b.as_slice()));
    let (rev, change) = admit_record_proof(&proof.signed.rev, record, crate::rev::now_micros())
        .map_err(|r| ResyncError::Permanent(format!("getRecord proof: {r}")))?;
    let commit = CommitState {
        rev,
        data_cid: text_cid(&proof.signed.data)?,
        commit_cid: text_cid(&proof.commit_cid)?,
    };
    let outcome = match change {
        InboxChange::Put(record) => InboxOutcome::Present { commit, record },
        InboxChange::Delete => InboxOutcome::Absent { commit },
    };
    Ok(FetchedInbox {
        did: did.clone(),
        pds,
        outcome,
    })
}

/// A hash-checked CID in its string form (a CID the syntax rules refuse is a bad proof).
fn text_cid(cid: &cid::Cid) -> Result<syntax::Cid, ResyncError> {
    syntax::Cid::parse(&cid.to_string())
        .map_err(|e| ResyncError::Permanent(format!("getRecord proof CID: {e}")))
}
