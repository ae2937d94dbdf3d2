//! Filler traffic: plausible `app.bsky.*` records (posts, likes, follows) from generated
//! users, so that the firehose carries mostly commits an `org.xmtp.inbox` indexer must
//! skip, as the real one does.

use rand::Rng;
use serde_json::json;

use super::error::AtmosphereError;
use super::pds::{CommitInfo, Pds};
use super::tid::{TidClock, datetime_now as now};

/// The filler collections.
pub const NOISE_COLLECTIONS: [&str; 3] = [
    "app.bsky.feed.post",
    "app.bsky.feed.like",
    "app.bsky.graph.follow",
];

/// A filler record of `collection` by `did`, about `other` (another DID).
pub fn noise_record(collection: &str, did: &str, other: &str, n: u64) -> serde_json::Value {
    match collection {
        "app.bsky.feed.like" => json!({
            "$type": "app.bsky.feed.like",
            "subject": {
                "uri": format!("at://{other}/app.bsky.feed.post/3l{n:011}"),
                "cid": "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454"
            },
            "createdAt": now(),
        }),
        "app.bsky.graph.follow" => json!({
            "$type": "app.bsky.graph.follow",
            "subject": other,
            "createdAt": now(),
        }),
        _ => json!({
            "$type": "app.bsky.feed.post",
            "text": format!("devnet post #{n} from {did}"),
            "langs": ["en"],
            "createdAt": now(),
        }),
    }
}

/// Writes one filler record of `collection` by `did` about `other`, under a fresh key.
pub(crate) fn write_noise(
    pds: &Pds,
    rkeys: &TidClock,
    collection: &str,
    did: &str,
    other: &str,
    n: u64,
) -> Result<CommitInfo, AtmosphereError> {
    let value = noise_record(collection, did, other, n);
    pds.create_record(did, collection, &rkeys.next(), value)
}

/// Writes `n` filler records spread over `dids` (random collection, author and subject).
pub fn emit_noise(
    pds: &Pds,
    dids: &[String],
    n: usize,
    rkeys: &TidClock,
) -> Result<Vec<CommitInfo>, AtmosphereError> {
    if dids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rng = rand::rng();
    let mut commits = Vec::with_capacity(n);
    for i in 0..n {
        let did = &dids[rng.random_range(0..dids.len())];
        let other = &dids[rng.random_range(0..dids.len())];
        let collection = NOISE_COLLECTIONS[rng.random_range(0..NOISE_COLLECTIONS.len())];
        match write_noise(pds, rkeys, collection, did, other, i as u64) {
            Ok(commit) => commits.push(commit),
            // Accounts deactivated or deleted meanwhile are skipped, not fatal.
            Err(AtmosphereError::AccountInactive(_) | AtmosphereError::UnknownAccount(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(commits)
}
