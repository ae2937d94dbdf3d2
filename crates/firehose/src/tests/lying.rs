//! A lying relay: everything in a `#commit` but the signed commit block is the relay's to
//! rewrite (`ops`, `prevData`, `since`, extra CAR blocks). These tests take genuine signed
//! commits of a victim, rewrite their envelopes as an attacker would, and check that the
//! index never holds a link the victim's repo does not hold. Before the `sync` crate, a
//! commit stripped of `prevData` had its ops applied with no proof, so the first three
//! tests planted, replaced or removed the victim's link.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;

use super::support::*;
use crate::frame::{Commit, Frame, RepoOp};
use crate::gate::Verdict;
use crate::process::{Outcome, Processor};
use sync::{Reject, StaticAccount, StaticIdentity};
use testkit::atproto::{SynthRepo, Write, inbox_record};

const VICTIM: &str = "did:plc:victim234victim234victim2";
const INBOX_V: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const INBOX_V2: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const INBOX_ATTACKER: &str = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

/// The attacker's record (signed over the victim's DID by the attacker's installation: its
/// XMTP half could well verify), and its CID.
fn attacker_record() -> (Cid, Vec<u8>) {
    let block = inbox_record(INBOX_ATTACKER, "AAECAwQFBgc=", "2026-07-04T12:00:00.000Z");
    (repo::cid_for_cbor(&block), block)
}

/// The commit's CAR with `extra` blocks appended (same root).
fn with_blocks(c: &Commit, extra: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let car = repo::CarSlice::parse(&c.blocks, &repo::CarLimits::COMMIT).unwrap();
    let mut blocks: Vec<(&Cid, &[u8])> = car.blocks().collect();
    blocks.extend(extra.iter().map(|(c, b)| (c, b.as_slice())));
    repo::write_car(&[c.commit], blocks)
}

fn op(action: &str, cid: Option<Cid>, prev: Option<Cid>) -> RepoOp {
    RepoOp {
        action: action.into(),
        path: "org.xmtp.inbox/self".into(),
        cid,
        prev,
    }
}

struct Victim {
    repo: SynthRepo,
    identity: Arc<StaticIdentity>,
}

fn victim() -> Victim {
    let key = repo::PrivateKey::generate(repo::Curve::K256);
    let identity = Arc::new(StaticIdentity::new());
    identity.insert(
        VICTIM,
        StaticAccount {
            key: key.public_key(),
            pds: "http://pds".into(),
            handle: None,
        },
    );
    Victim {
        repo: SynthRepo::new(VICTIM, key, 1_780_000_000_000_000),
        identity,
    }
}

async fn flush(store: &store::Store, p: &mut Processor) {
    if let Some(b) = p.take_batch() {
        store.writer().apply(b).await.unwrap();
    }
}

async fn link_cid(store: &store::Store) -> Option<String> {
    let l = store.reader().link_by_did(VICTIM).await.unwrap();
    l.map(|l| l.record.cid.into_string())
}

#[tokio::test]
async fn stripping_prev_data_and_swapping_ops_cannot_plant_a_link() {
    let (_dir, store) = temp_store();
    let mut v = victim();
    let (mut gate, mut p, _h, _) = stages(&store, v.identity.clone(), false);
    let mut genuine = v.repo.commit(1, &[like(1)]);
    let (cid, block) = attacker_record();
    genuine.prev_data = None;
    genuine.ops = vec![op("create", Some(cid), None)];
    genuine.blocks = with_blocks(&genuine, &[(cid, block)]);
    let out = feed(&mut gate, &mut p, genuine).await;
    assert!(
        matches!(&out, Outcome::Rejected(Reject::Unproven(why)) if why.contains("org.xmtp.inbox/self")),
        "{out:?}"
    );
    flush(&store, &mut p).await;
    assert_eq!(link_cid(&store).await, None, "no link planted");
}

/// Makes a forged commit from the victim's next genuine one.
type Forge = fn(&mut SynthRepo) -> Commit;

/// The three forgeries against a victim whose link is indexed, each on a fresh pipeline.
fn forgeries() -> Vec<(&'static str, Forge)> {
    fn update_stripped(r: &mut SynthRepo) -> Commit {
        // Update, prevData stripped: not proven by the signed tree.
        let (cid, block) = attacker_record();
        let mut c = r.commit(2, &[like(1)]);
        c.prev_data = None;
        c.ops = vec![op("update", Some(cid), None)];
        c.blocks = with_blocks(&c, &[(cid, block)]);
        c
    }
    fn update_kept(r: &mut SynthRepo) -> Commit {
        // Update with prevData kept: the diff no longer inverts to prevData.
        let (cid, block) = attacker_record();
        let mut c = r.commit(2, &[like(2)]);
        c.ops.push(op("update", Some(cid), None));
        c.blocks = with_blocks(&c, &[(cid, block)]);
        c
    }
    fn delete_stripped(r: &mut SynthRepo) -> Commit {
        // Delete, prevData stripped: the signed tree still holds the record.
        let mut c = r.commit(2, &[like(3)]);
        c.prev_data = None;
        c.ops = vec![op("delete", None, None)];
        c
    }
    vec![
        ("unproven", update_stripped),
        ("inversion", update_kept),
        ("unproven", delete_stripped),
    ]
}

#[tokio::test]
async fn a_forged_update_or_delete_cannot_replace_or_remove_a_link() {
    for (want, forge) in forgeries() {
        let (_dir, store) = temp_store();
        let mut v = victim();
        let (mut gate, mut p, _h, _) = stages(&store, v.identity.clone(), false);
        let c1 = v.repo.commit(1, &[put_inbox(INBOX_V)]);
        assert_eq!(feed(&mut gate, &mut p, c1).await, Outcome::Accepted);
        flush(&store, &mut p).await;
        let good = link_cid(&store).await.unwrap();
        let out = feed(&mut gate, &mut p, forge(&mut v.repo)).await;
        assert!(
            matches!(&out, Outcome::Rejected(r) if r.label() == want),
            "want {want}: {out:?}"
        );
        flush(&store, &mut p).await;
        assert_eq!(link_cid(&store).await, Some(good), "the genuine link stays");
        // The rejection left the repo waiting for a proof-checked resync.
        assert!(
            store
                .reader()
                .desynchronized_dids()
                .await
                .unwrap()
                .contains(&testkit::ids::did(VICTIM))
        );
    }
}

#[tokio::test]
async fn a_legacy_commit_is_applied_only_when_its_inbox_op_is_proven() {
    let (_dir, store) = temp_store();
    let mut v = victim();
    let (mut gate, mut p, _h, _) = stages(&store, v.identity.clone(), false);
    // A genuine commit without prevData (a pre-Sync-1.1 relay): its CAR carries the MST
    // path, so the create is proven from the signed root and applied.
    let mut legacy = v.repo.commit(1, &[put_inbox(INBOX_V)]);
    legacy.prev_data = None;
    assert_eq!(feed(&mut gate, &mut p, legacy).await, Outcome::Accepted);
    flush(&store, &mut p).await;
    assert!(link_cid(&store).await.is_some());
}

/// One random envelope rewrite an attacking relay could make.
fn rewrite(rng: &mut Rng, c: &mut Commit, genuine_cids: &[Cid]) {
    let (acid, ablock) = attacker_record();
    match rng.below(7) {
        0 => c.prev_data = None,
        1 => {
            c.prev_data = None;
            c.ops = vec![op("create", Some(acid), None)];
            c.blocks = with_blocks(c, &[(acid, ablock)]);
        }
        2 => {
            c.ops.push(op("update", Some(acid), None));
            c.blocks = with_blocks(c, &[(acid, ablock)]);
        }
        3 => {
            if rng.below(2) == 0 {
                c.prev_data = None;
            }
            c.ops = vec![op("delete", None, None)];
        }
        4 => {
            // Point the op at an older genuine record of the victim.
            if let Some(old) = genuine_cids.first() {
                c.ops = vec![op("update", Some(*old), None)];
                c.prev_data = None;
            }
        }
        5 => c.since = Some("2222222222222".into()),
        _ => {
            c.ops.clear();
            c.prev_data = None;
        }
    }
}

#[tokio::test]
async fn random_envelope_rewrites_never_make_the_index_hold_a_record_the_repo_did_not() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (acid, _) = attacker_record();
    for round in 0..40 {
        let (_dir, store) = temp_store();
        let mut v = victim();
        let (mut gate, mut p, _h, _) = stages(&store, v.identity.clone(), false);
        let mut held: HashSet<String> = HashSet::new();
        let mut genuine_cids = Vec::new();
        let mut current: Option<String> = None;
        let mut replay: Vec<Commit> = Vec::new();
        for seq in 1..=12 {
            let writes = match rng.below(4) {
                0 => vec![put_inbox(if rng.below(2) == 0 {
                    INBOX_V
                } else {
                    INBOX_V2
                })],
                1 if current.is_some() => vec![Write::Delete("org.xmtp.inbox/self".into())],
                _ => vec![like(seq as u32)],
            };
            let mut c = v.repo.commit(seq, &writes);
            if let Some(o) = c.ops.iter().find(|o| o.path == "org.xmtp.inbox/self") {
                current = o.cid.map(|c| c.to_string());
                if let Some(cid) = o.cid {
                    held.insert(cid.to_string());
                    genuine_cids.push(cid);
                }
            }
            replay.push(c.clone());
            match rng.below(4) {
                0 => rewrite(&mut rng, &mut c, &genuine_cids),
                1 if replay.len() > 2 => {
                    // Replay an older genuine commit under a new seq.
                    let mut old = replay[rng.below(replay.len() - 1)].clone();
                    old.seq = c.seq;
                    c = old;
                }
                _ => {}
            }
            if let Verdict::Forward(item) = gate.on_message(Bytes::from(Frame::Commit(c).encode()))
            {
                let _ = p.process(item).await;
            }
        }
        flush(&store, &mut p).await;
        if let Some(cid) = link_cid(&store).await {
            assert_ne!(
                cid,
                acid.to_string(),
                "round {round}: attacker's record indexed"
            );
            assert!(
                held.contains(&cid),
                "round {round}: index holds {cid}, never in the victim's repo"
            );
        }
    }
}

#[tokio::test]
async fn an_old_commit_replayed_after_the_account_was_deleted_does_not_bring_the_link_back() {
    let (_dir, store) = temp_store();
    let mut v = victim();
    let (mut gate, mut p, _h, _) = stages(&store, v.identity.clone(), false);
    let c1 = v.repo.commit(1, &[put_inbox(INBOX_V)]);
    assert_eq!(feed(&mut gate, &mut p, c1.clone()).await, Outcome::Accepted);
    flush(&store, &mut p).await;
    assert!(link_cid(&store).await.is_some());
    let deleted = Frame::Account(crate::frame::AccountEvent {
        seq: 2,
        did: VICTIM.into(),
        time: "2026-07-04T12:00:01.000Z".into(),
        active: false,
        status: Some("deleted".into()),
    });
    let Verdict::Forward(item) = gate.on_message(Bytes::from(deleted.encode())) else {
        panic!("dropped")
    };
    assert_eq!(p.process(item).await, Outcome::Accepted);
    flush(&store, &mut p).await;
    assert_eq!(link_cid(&store).await, None);
    // After a restart (nothing in memory), the relay replays the genuine first commit; the
    // store's rev floor, not a memory of the deletion, makes it stale.
    let (mut gate, mut p, _h, _) = stages_restarted(&store, v.identity.clone()).await;
    let mut replay = c1;
    replay.seq = 3;
    assert_eq!(
        feed(&mut gate, &mut p, replay).await,
        Outcome::Ignored("stale_rev")
    );
    flush(&store, &mut p).await;
    assert_eq!(
        link_cid(&store).await,
        None,
        "the deleted account's link came back"
    );
}
