//! Reading the `org.xmtp.inbox/self` record (or its proven absence) out of a
//! `sync.getRecord` CAR, before its signature is checked.

use cid::Cid;
use repo::mst::PartialMst;
use repo::{CarLimits, CarSlice};
use syntax::Did;

/// The MST key of the one record we index.
pub const INBOX_KEY: &str = "org.xmtp.inbox/self";

/// What a `getRecord` CAR proves (signature not yet checked).
#[derive(Debug, Clone)]
pub struct InboxProof {
    /// The signed commit at the CAR's first root.
    pub signed: repo::Commit,
    /// That commit's CID.
    pub commit_cid: Cid,
    /// The record's CID and block, or `None` when the CAR proves it absent.
    pub record: Option<(Cid, Vec<u8>)>,
}

/// Reads `org.xmtp.inbox/self` out of a `getRecord` CAR: every block hash-checked, the
/// commit's `did` equal to `did`, and the MST path from `data` to the key present.
pub fn read_inbox_proof(car_bytes: &[u8], did: &Did) -> Result<InboxProof, String> {
    let car = CarSlice::parse(car_bytes, &CarLimits::PROOF).map_err(|e| e.to_string())?;
    let root = *car.roots().first().ok_or("CAR has no root")?;
    let block = car.get(&root).ok_or("commit block missing")?;
    let signed = repo::Commit::decode(block).map_err(|e| e.to_string())?;
    if signed.did != did.as_str() {
        return Err(format!("proof is for {}", signed.did));
    }
    let mut tree = PartialMst::load(signed.data, &car).map_err(|e| e.to_string())?;
    let record = match tree.get(INBOX_KEY).map_err(|e| e.to_string())? {
        Some(cid) => {
            let b = car.get(&cid).ok_or("record block missing from proof")?;
            Some((cid, b.to_vec()))
        }
        None => None,
    };
    Ok(InboxProof {
        signed,
        commit_cid: root,
        record,
    })
}
