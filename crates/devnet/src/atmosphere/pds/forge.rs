//! Bad commits on the wire, for the consumer's rejection paths: a commit is built on a
//! scratch copy of the repo, damaged in one way, and published; the PDS's real repo does
//! not move, so the next genuine commit chains from the last genuine one.

use ::repo::{CarLimits, CarSlice, Cid, Curve, PrivateKey, cid_for_cbor, write_car};

use super::repo::{Repository, Write};
use crate::atmosphere::error::AtmosphereError;
use crate::atmosphere::relay::CommitEvent;

/// How a published commit is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    /// Signed by a key that is not the account's `#atproto` key.
    WrongSigningKey,
    /// `prevData` names a tree the ops do not invert to.
    WrongPrevData,
    /// A record block's bytes do not hash to its CID.
    CorruptRecordBlock,
    /// The record blocks are left out of the CAR slice.
    MissingRecordBlock,
    /// The MST nodes are left out (only the commit and the records remain): the diff
    /// cannot be inverted.
    MissingMstNodes,
}

/// Builds the damaged `#commit` for `writes` on a copy of `repo`.
pub(crate) fn forged_commit(
    repo: &Repository,
    writes: &[Write],
    key: &PrivateKey,
    rev: String,
    forgery: Forgery,
) -> Result<CommitEvent, AtmosphereError> {
    let mut scratch = repo.clone();
    let signer = match forgery {
        Forgery::WrongSigningKey => PrivateKey::generate(Curve::K256),
        _ => key.clone(),
    };
    let mut event = scratch.commit(writes, &signer, rev)?;
    let record_cids: Vec<Cid> = event.ops.iter().filter_map(|op| op.cid).collect();
    let rewrite = |event: &CommitEvent, keep: &dyn Fn(&Cid) -> bool, corrupt: bool| {
        let car = CarSlice::parse(&event.blocks, &CarLimits::COMMIT)
            .map_err(|error| AtmosphereError::Repo(format!("re-reading our own CAR: {error}")))?;
        let mut blocks: Vec<(Cid, Vec<u8>)> = Vec::new();
        for (cid, bytes) in car.blocks() {
            if !keep(cid) {
                continue;
            }
            let mut bytes = bytes.to_vec();
            if corrupt && record_cids.contains(cid) {
                // Still valid CBOR, different content: only the hash check catches it.
                bytes = serde_ipld_dagcbor::to_vec(&serde_json::json!({"$type": "forged"}))
                    .map_err(|error| AtmosphereError::Repo(error.to_string()))?;
            }
            blocks.push((*cid, bytes));
        }
        Ok::<_, AtmosphereError>(write_car(
            &[event.commit],
            blocks.iter().map(|(cid, bytes)| (cid, bytes.as_slice())),
        ))
    };
    match forgery {
        Forgery::WrongSigningKey => {}
        Forgery::WrongPrevData => {
            event.prev_data = Some(cid_for_cbor(b"\xa0"));
        }
        Forgery::CorruptRecordBlock => {
            event.blocks = rewrite(&event, &|_| true, true)?;
        }
        Forgery::MissingRecordBlock => {
            event.blocks = rewrite(&event, &|cid| !record_cids.contains(cid), false)?;
        }
        Forgery::MissingMstNodes => {
            let commit = event.commit;
            event.blocks = rewrite(
                &event,
                &|cid| *cid == commit || record_cids.contains(cid),
                false,
            )?;
        }
    }
    Ok(event)
}
