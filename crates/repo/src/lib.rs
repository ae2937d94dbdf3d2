//! ATProto repository primitives: DAG-CBOR, CIDs, CAR, keys, signed commits, the MST and the
//! Sync 1.1 commit checks. Pure, no IO: everything works on byte slices.
//!
//! Entry points for the firehose: [`verify_commit`] (CAR + commit + signature, giving the
//! record blocks) and [`VerifiedCommit::invert`] (Sync 1.1 inversion against `prevData`); for
//! backfill: [`verify_record_proof`]; for a writer (the devnet's PDS, `testkit`): [`RepoWriter`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod car;
pub mod cbor;
pub mod cid_util;
pub mod commit;
pub mod keys;
pub mod mst;
pub mod verify;
pub mod writer;

#[cfg(test)]
mod test_vectors;
#[cfg(test)]
mod tests;

pub use car::{CarError, CarLimits, CarSlice, write_car};
pub use cid::Cid;
pub use cid_util::{CidError, check_block, cid_for_cbor, cid_for_raw, parse_cid, sha256};
pub use commit::{Commit, CommitDecodeError};
pub use keys::{Curve, KeyError, PrivateKey, PublicKey};
pub use mst::{BlockSource, InvertError, Mst, MstError, Op, OpAction, PartialMst};
pub use verify::{
    CommitCar, CommitError, ProofError, RecordProof, VerifiedCommit, verify_commit,
    verify_record_proof, verify_repo_record,
};
pub use writer::{CommitDiff, CommitOp, Head, Record, RepoWriter, Write, WriteError};
