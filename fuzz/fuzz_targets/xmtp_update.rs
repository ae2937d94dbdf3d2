//! XMTP identity updates from the node: the `GetIdentityUpdates` answer and the
//! `IdentityUpdate` protobufs it carries are decoded and replayed (signature checks, member
//! rules), with every smart-contract-wallet check answered "valid" so replay goes deep.
//! The cached inbox state blob is decoded too.
//!
//! Input: first byte even = a `GetIdentityUpdatesResponse`; odd = updates as
//! `[u16 LE length][bytes]...` replayed as one log.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use xmtp::model::DecodedUpdate;
use xmtp::proto::api as pb;

fn replay(updates: &[Vec<u8>]) {
    let decoded: Vec<DecodedUpdate> = updates
        .iter()
        .filter_map(|u| DecodedUpdate::from_bytes(u).ok())
        .collect();
    let scw = xmtp::replay::scw_requests(&decoded)
        .into_iter()
        .map(|r| (r, xmtp::signature::ScwVerdict::Valid))
        .collect();
    let _ = xmtp::replay::replay(None, &decoded, &scw);
    let _ = xmtp::replay::replay_bytes(None, updates, &Default::default());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let _ = xmtp::CachedInbox::from_bytes(rest);
    if mode % 2 == 0 {
        let Ok(resp) = pb::RawGetIdentityUpdatesResponse::decode(rest) else {
            return;
        };
        for r in resp.responses.iter().take(8) {
            let updates: Vec<Vec<u8>> = r.updates.iter().map(|u| u.update.clone()).collect();
            replay(&updates);
        }
    } else {
        let mut updates = Vec::new();
        let mut rest = rest;
        while let Some((len, tail)) = rest.split_first_chunk::<2>() {
            let n = usize::from(u16::from_le_bytes(*len)).min(tail.len());
            let (u, tail) = tail.split_at(n);
            updates.push(u.to_vec());
            rest = tail;
        }
        replay(&updates);
    }
});
