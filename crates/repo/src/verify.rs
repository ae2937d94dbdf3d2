//! The per-commit checks the firehose and backfill call: a `#commit` CAR slice checked
//! against the message (root = commit CID, DID, rev, signature), Sync 1.1 inversion against
//! `prevData`, and `com.atproto.sync.getRecord` proofs (presence or absence).

use cid::Cid;

use crate::car::{CarError, CarLimits, CarSlice};
use crate::commit::{Commit, CommitDecodeError};
use crate::keys::{KeyError, PublicKey};
use crate::mst::{InvertError, MstError, Op, OpAction, PartialMst, invert_ops};

/// Why a commit was rejected. [`CommitError::reason`] gives a stable metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// The CAR slice is malformed, too large, or a block fails its hash.
    #[error("CAR: {0}")]
    Car(#[from] CarError),
    /// The CAR has no root.
    #[error("CAR has no root")]
    NoRoot,
    /// The first root is not the message's `commit` CID.
    #[error("first CAR root {found} is not the commit {expected}")]
    RootMismatch {
        /// The message's `commit`.
        expected: Box<Cid>,
        /// The CAR's first root.
        found: Box<Cid>,
    },
    /// The commit block is not in the CAR.
    #[error("commit block missing from CAR")]
    MissingCommitBlock,
    /// The commit block is not a valid commit.
    #[error("commit: {0}")]
    Decode(#[from] CommitDecodeError),
    /// Commit `did` differs from the message's `repo`.
    #[error("commit did {0} differs from the message")]
    DidMismatch(String),
    /// Commit `rev` differs from the message's `rev`.
    #[error("commit rev {0} differs from the message")]
    RevMismatch(String),
    /// Signature check failed (bad, high-S, wrong length...).
    #[error("signature: {0}")]
    Signature(#[from] KeyError),
    /// An op is malformed, legacy (no `prev`), or disagrees with the MST, or a node is missing.
    #[error("ops: {0}")]
    Ops(#[from] InvertError),
    /// Inverting the ops did not give `prevData`.
    #[error("inverted root {computed} differs from prevData {prev_data}")]
    PrevDataMismatch {
        /// Root after undoing the ops.
        computed: Box<Cid>,
        /// The message's `prevData`.
        prev_data: Box<Cid>,
    },
}

impl CommitError {
    /// A short stable label for metrics (`commits_rejected{reason=...}`).
    pub fn reason(&self) -> &'static str {
        match self {
            CommitError::Car(_) => "car",
            CommitError::NoRoot | CommitError::RootMismatch { .. } => "root_mismatch",
            CommitError::MissingCommitBlock => "missing_commit_block",
            CommitError::Decode(_) => "commit_decode",
            CommitError::DidMismatch(_) => "did_mismatch",
            CommitError::RevMismatch(_) => "rev_mismatch",
            CommitError::Signature(KeyError::HighS) => "high_s",
            CommitError::Signature(_) => "bad_signature",
            CommitError::Ops(InvertError::MissingPrev(_)) => "legacy_ops",
            CommitError::Ops(InvertError::Mst(MstError::MissingBlock(_))) => "mst_incomplete",
            CommitError::Ops(InvertError::Mst(_)) => "mst_invalid",
            CommitError::Ops(InvertError::Mismatch(_)) => "op_mismatch",
            CommitError::Ops(_) => "bad_ops",
            CommitError::PrevDataMismatch { .. } => "prev_data_mismatch",
        }
    }

    /// True when a fresh signing key might change the outcome (refresh the DID once).
    pub fn is_signature(&self) -> bool {
        matches!(self, CommitError::Signature(_))
    }
}

/// A `#commit` CAR slice whose structure has been checked but whose signature has not.
#[derive(Debug, Clone)]
pub struct CommitCar<'a> {
    /// CID of the commit block.
    pub cid: Cid,
    /// The decoded commit.
    pub commit: Commit,
    car: CarSlice<'a>,
    digest: [u8; 32],
}

impl<'a> CommitCar<'a> {
    /// Parses the CAR (hash-checking blocks) and checks root, DID and rev against the message.
    pub fn parse(
        car_bytes: &'a [u8],
        expected_commit: &Cid,
        repo_did: &str,
        rev: &str,
    ) -> Result<Self, CommitError> {
        let car = CarSlice::parse(car_bytes, &CarLimits::COMMIT)?;
        let cid = *car.roots().first().ok_or(CommitError::NoRoot)?;
        if cid != *expected_commit {
            return Err(CommitError::RootMismatch {
                expected: Box::new(*expected_commit),
                found: Box::new(cid),
            });
        }
        Self::from_car(car, cid, Some(repo_did), Some(rev))
    }

    fn from_car(
        car: CarSlice<'a>,
        cid: Cid,
        did: Option<&str>,
        rev: Option<&str>,
    ) -> Result<Self, CommitError> {
        let block = car.get(&cid).ok_or(CommitError::MissingCommitBlock)?;
        let commit = Commit::decode(block)?;
        if did.is_some_and(|d| d != commit.did) {
            return Err(CommitError::DidMismatch(commit.did));
        }
        if rev.is_some_and(|r| r != commit.rev) {
            return Err(CommitError::RevMismatch(commit.rev));
        }
        let digest = crate::cid_util::sha256(&commit.unsigned_bytes());
        Ok(CommitCar {
            cid,
            commit,
            car,
            digest,
        })
    }

    /// Parses a `#sync` CAR (only the commit block; first root = commit) and checks DID and rev.
    pub fn parse_sync(car_bytes: &'a [u8], did: &str, rev: &str) -> Result<Self, CommitError> {
        let car = CarSlice::parse(car_bytes, &CarLimits::PROOF)?;
        let cid = *car.roots().first().ok_or(CommitError::NoRoot)?;
        Self::from_car(car, cid, Some(did), Some(rev))
    }

    /// Same as [`VerifiedCommit::inverted_root`], before the signature is checked (diagnostics
    /// and tests; never trust its result without a signature check).
    pub fn inverted_root(&self, ops: &[Op<'_>]) -> Result<Cid, CommitError> {
        let mut tree = PartialMst::load(self.commit.data, &self.car).map_err(InvertError::from)?;
        Ok(invert_ops(&mut tree, ops)?)
    }

    /// Checks the signature with `key` (can be retried with a refreshed key).
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), CommitError> {
        Ok(key.verify_prehash(&self.digest, &self.commit.sig)?)
    }

    /// Checks the signature and upgrades to a [`VerifiedCommit`].
    pub fn verified(self, key: &PublicKey) -> Result<VerifiedCommit<'a>, CommitError> {
        self.verify_signature(key)?;
        Ok(VerifiedCommit { inner: self })
    }

    /// Like [`CommitCar::verified`], but hands the unverified commit back on failure, so the
    /// caller can retry with a refreshed key without parsing again.
    pub fn verified_or_back(self, key: &PublicKey) -> Result<VerifiedCommit<'a>, Box<Self>> {
        match self.verify_signature(key) {
            Ok(()) => Ok(VerifiedCommit { inner: self }),
            Err(_) => Err(Box::new(self)),
        }
    }

    /// A block of the CAR (hash already checked; the signature is not).
    pub fn block(&self, cid: &Cid) -> Option<&'a [u8]> {
        self.car.get(cid)
    }
}

/// A commit whose CAR, message fields and signature all check out.
#[derive(Debug, Clone)]
pub struct VerifiedCommit<'a> {
    inner: CommitCar<'a>,
}

/// Parses and fully checks a `#commit`'s `blocks`: see [`CommitCar::parse`] and
/// [`CommitCar::verified`].
pub fn verify_commit<'a>(
    car_bytes: &'a [u8],
    expected_commit: &Cid,
    repo_did: &str,
    rev: &str,
    key: &PublicKey,
) -> Result<VerifiedCommit<'a>, CommitError> {
    CommitCar::parse(car_bytes, expected_commit, repo_did, rev)?.verified(key)
}

impl<'a> VerifiedCommit<'a> {
    /// The commit CID.
    pub fn cid(&self) -> &Cid {
        &self.inner.cid
    }
    /// The commit.
    pub fn commit(&self) -> &Commit {
        &self.inner.commit
    }
    /// A block of the CAR (hash already checked), e.g. a record by its op CID.
    pub fn block(&self, cid: &Cid) -> Option<&'a [u8]> {
        self.inner.car.get(cid)
    }
    /// The whole CAR slice.
    pub fn car(&self) -> &CarSlice<'a> {
        &self.inner.car
    }

    /// Checks every op against the signed MST (create/update: the path holds `cid`; delete:
    /// the path is absent) without inverting: the check left for legacy commits.
    pub fn check_ops(&self, ops: &[Op<'_>]) -> Result<(), CommitError> {
        let mut tree =
            PartialMst::load(self.inner.commit.data, &self.inner.car).map_err(InvertError::from)?;
        for op in ops {
            let want = match op.action {
                OpAction::Create | OpAction::Update => op.cid,
                OpAction::Delete => None,
            };
            if tree.get(op.path).map_err(InvertError::from)? != want {
                return Err(InvertError::Mismatch(op.path.to_string()).into());
            }
        }
        Ok(())
    }

    /// Checks the ops against the MST and undoes them, returning the previous MST root. Works
    /// for legacy commits too as long as they only create (creates need no `prev`).
    pub fn inverted_root(&self, ops: &[Op<'_>]) -> Result<Cid, CommitError> {
        self.inner.inverted_root(ops)
    }

    /// Sync 1.1: checks the ops against the MST, undoes them and requires `prevData`.
    pub fn invert(&self, ops: &[Op<'_>], prev_data: &Cid) -> Result<(), CommitError> {
        let computed = self.inverted_root(ops)?;
        if computed == *prev_data {
            Ok(())
        } else {
            Err(CommitError::PrevDataMismatch {
                computed: Box::new(computed),
                prev_data: Box::new(*prev_data),
            })
        }
    }
}

/// Why a `getRecord` proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Commit-level failure (CAR, decode, DID, signature).
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// A node on the key's path is missing: neither presence nor absence is proven.
    #[error("record path not provable: {0}")]
    Unprovable(MstError),
    /// The MST is malformed.
    #[error("invalid MST: {0}")]
    Mst(MstError),
    /// The MST holds the record CID but the record block is not in the CAR.
    #[error("record block {0} missing from CAR")]
    MissingRecord(Box<Cid>),
}

/// A verified `getRecord` answer.
#[derive(Debug, Clone)]
pub struct RecordProof<'a> {
    /// The signed commit.
    pub commit: Commit,
    /// Its CID.
    pub commit_cid: Cid,
    /// The record CID and bytes, or `None` when the CAR proves the record absent.
    pub record: Option<(Cid, &'a [u8])>,
}

/// Verifies a `com.atproto.sync.getRecord` CAR: commit (first root) signed by `key` for
/// `did`, then the MST path for `collection/rkey` to the record, or a proof of absence.
pub fn verify_record_proof<'a>(
    car_bytes: &'a [u8],
    did: &str,
    collection: &str,
    rkey: &str,
    key: &PublicKey,
) -> Result<RecordProof<'a>, ProofError> {
    verify_record_in(car_bytes, &CarLimits::PROOF, did, collection, rkey, key)
}

/// Same as [`verify_record_proof`] over a whole `com.atproto.sync.getRepo` export (larger
/// size limits: [`CarLimits::REPO`]).
pub fn verify_repo_record<'a>(
    car_bytes: &'a [u8],
    did: &str,
    collection: &str,
    rkey: &str,
    key: &PublicKey,
) -> Result<RecordProof<'a>, ProofError> {
    verify_record_in(car_bytes, &CarLimits::REPO, did, collection, rkey, key)
}

fn verify_record_in<'a>(
    car_bytes: &'a [u8],
    limits: &CarLimits,
    did: &str,
    collection: &str,
    rkey: &str,
    key: &PublicKey,
) -> Result<RecordProof<'a>, ProofError> {
    let car = CarSlice::parse(car_bytes, limits).map_err(CommitError::from)?;
    let cid = *car.roots().first().ok_or(CommitError::NoRoot)?;
    let commit = CommitCar::from_car(car, cid, Some(did), None)?.verified(key)?;
    let path = format!("{collection}/{rkey}");
    let classify = |e: MstError| match e {
        MstError::MissingBlock(_) => ProofError::Unprovable(e),
        other => ProofError::Mst(other),
    };
    let mut tree = PartialMst::load(commit.commit().data, commit.car()).map_err(classify)?;
    let record = match tree.get(&path).map_err(classify)? {
        None => None,
        Some(rcid) => Some((
            rcid,
            commit
                .block(&rcid)
                .ok_or(ProofError::MissingRecord(Box::new(rcid)))?,
        )),
    };
    Ok(RecordProof {
        commit: commit.commit().clone(),
        commit_cid: cid,
        record,
    })
}
