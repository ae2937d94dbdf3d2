//! A lying relay, driven from the world: genuine signed commits of a victim sent with their
//! unsigned envelope rewritten (`prevData` stripped, ops swapped, blocks added), as a relay
//! that wants to plant or remove a link would. The AppView must believe none of it.

use serde_json::json;

use super::{Devnet, INBOX_COLLECTION, INBOX_RKEY};
use crate::atmosphere::tid::datetime_now as now;
use crate::atmosphere::{AtmosphereError, CommitOp, OpAction};

fn like() -> serde_json::Value {
    json!({"$type": "app.bsky.feed.like", "createdAt": now(),
           "subject": {"uri": "at://did:plc:nobody/app.bsky.feed.post/3laaaaaaaaaaa",
                       "cid": "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"}})
}

fn inbox_path() -> String {
    format!("{INBOX_COLLECTION}/{INBOX_RKEY}")
}

impl Devnet {
    /// The relay plants a link for `victim`: the victim's next genuine commit (a like written
    /// here) goes out with `prevData` stripped, its ops replaced by a create of
    /// `org.xmtp.inbox/self`, and the attacker's record added to the CAR. The record is the
    /// best an attacker can make: a real inbox of the attacker's, whose installation signed
    /// the victim's DID. Returns the attacker's inbox id.
    pub fn relay_plants_link(&self, victim: &str) -> Result<String, AtmosphereError> {
        let inbox = self.inner.xmtp.create_inbox();
        let signature = self
            .inner
            .xmtp
            .sign_did(&inbox.inbox_id, victim)
            .map_err(|e| AtmosphereError::Xmtp(e.to_string()))?;
        let record = repo::cbor::json_to_cbor(&json!({
            "$type": INBOX_COLLECTION,
            "id": inbox.inbox_id,
            "verificationSignature": signature,
            "createdAt": now(),
        }))
        .map_err(|e| AtmosphereError::Xmtp(e.to_string()))?;
        let cid = repo::cid_for_cbor(&record);
        self.inner.relay.rewrite_next_commit(move |c| {
            c.prev_data = None;
            c.ops = vec![CommitOp {
                action: OpAction::Create,
                path: inbox_path(),
                cid: Some(cid),
                prev: None,
            }];
            c.blocks = with_block(&c.blocks, c.commit, (cid, record));
        });
        self.write_like(victim)?;
        Ok(inbox.inbox_id)
    }

    /// The relay deletes `victim`'s link: the victim's next genuine commit (a like written
    /// here) goes out with `prevData` stripped and its ops replaced by a delete of
    /// `org.xmtp.inbox/self`.
    pub fn relay_deletes_link(&self, victim: &str) -> Result<(), AtmosphereError> {
        self.inner.relay.rewrite_next_commit(|c| {
            c.prev_data = None;
            c.ops = vec![CommitOp {
                action: OpAction::Delete,
                path: inbox_path(),
                cid: None,
                prev: None,
            }];
        });
        self.write_like(victim)
    }

    fn write_like(&self, did: &str) -> Result<(), AtmosphereError> {
        let rkey = self.inner.rkeys.next();
        self.inner
            .pds
            .put_record(did, "app.bsky.feed.like", &rkey, like())?;
        Ok(())
    }
}

/// `car` with one more block (same roots); the input unchanged if it does not parse.
fn with_block(car: &[u8], root: cid::Cid, extra: (cid::Cid, Vec<u8>)) -> Vec<u8> {
    let Ok(slice) = repo::CarSlice::parse(car, &repo::CarLimits::COMMIT) else {
        return car.to_vec();
    };
    let mut blocks: Vec<(&cid::Cid, &[u8])> = slice.blocks().collect();
    blocks.push((&extra.0, &extra.1));
    repo::write_car(&[root], blocks)
}
