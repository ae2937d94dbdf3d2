//! The verification pool: commit and `#sync` checks (signing key, signature, MST
//! inversion) run off the stream's ordered path, concurrent across DIDs and in stream
//! order per DID.
//!
//! A check depends only on the event and the DID's signing key, never on what was applied
//! before it, so it can run ahead of the [`crate::process`] stage, which applies the
//! results strictly in stream order (the cursor never passes an event whose effect is not
//! in the same batch). Each DID hashes to one of `workers` lanes, a task that checks its
//! jobs one at a time: a key rotation seen by one commit (the forced DID refresh) is seen
//! by the DID's next commit, and a slow key lookup holds only its own lane, bounded by
//! `key_timeout`. The lanes run on the runtime's worker threads.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sync::commit::{parse_commit, parse_sync};
use sync::rev::now_micros;
use sync::{Admitted, IdentitySource, Reject, admit_commit};
use tokio::sync::{mpsc, oneshot};

use crate::frame::{Commit, SyncEvent};
use crate::process::envelope;

/// Minimum time between two forced DID refreshes for the same DID.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// Bound on the remembered forced refreshes.
const MAX_REFRESHED: usize = 1_000_000;
/// Jobs queued per lane (the processor's in-flight window bounds the total anyway).
const LANE_QUEUE: usize = 1_024;

/// What the check of a `#commit` found.
#[derive(Debug)]
pub enum CommitCheck {
    /// The envelope or CAR is unusable (before any signature).
    Parse(Reject),
    /// No key, or the signature does not verify (after one forced refresh).
    Signature(Reject),
    /// Signed, but the ops do not invert to `prevData` (or a proof is missing).
    Admit(Reject),
    /// Signed and proven.
    Ok {
        /// The repo's DID, as `parse_commit` typed it.
        did: syntax::Did,
        /// The commit's rev, as `parse_commit` typed it.
        rev: syntax::Tid,
        /// The signed MST root.
        data: syntax::Cid,
        /// What the commit may change.
        admitted: Admitted,
    },
}

/// What the check of a `#sync` found.
#[derive(Debug)]
pub enum SyncCheck {
    /// The CAR is unusable.
    Parse(Reject),
    /// No key, or a bad signature.
    Signature(Reject),
    /// Signed: the MST root and commit CID.
    Ok {
        /// The repo's DID, as `parse_sync` typed it.
        did: syntax::Did,
        /// The rev, as `parse_sync` typed it.
        rev: syntax::Tid,
        /// The signed MST root.
        data: syntax::Cid,
        /// The commit CID.
        commit: syntax::Cid,
    },
}

/// A job and its answer.
#[derive(Debug)]
pub enum Checked {
    /// A `#commit`, handed back with its check.
    Commit(Box<Commit>, CommitCheck),
    /// A `#sync`, handed back with its check.
    Sync(SyncEvent, SyncCheck),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Checked>,
}

enum Work {
    Commit(Box<Commit>),
    Sync(SyncEvent),
}

/// Everything a check needs.
struct Ctx {
    identity: Arc<dyn IdentitySource>,
    key_timeout: Duration,
    refreshed: Mutex<HashMap<String, Instant>>,
}

/// Handles to the lanes (dropping the pool ends them once their queues are drained).
/// The lanes are spawned on the runtime of the first check.
pub struct Pool {
    ctx: Arc<Ctx>,
    workers: usize,
    lanes: std::sync::OnceLock<Vec<mpsc::Sender<Job>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers)
            .finish()
    }
}

/// The default number of lanes: one per CPU, at least 2, at most 8.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
}

impl Pool {
    /// A pool of `workers` lanes (started with the first check).
    pub fn new(identity: Arc<dyn IdentitySource>, key_timeout: Duration, workers: usize) -> Self {
        Self {
            ctx: Arc::new(Ctx {
                identity,
                key_timeout,
                refreshed: Mutex::new(HashMap::new()),
            }),
            workers: workers.max(1),
            lanes: std::sync::OnceLock::new(),
            hasher: Default::default(),
        }
    }

    fn lane(&self, did: &str) -> &mpsc::Sender<Job> {
        let lanes = self.lanes.get_or_init(|| {
            (0..self.workers)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(LANE_QUEUE);
                    tokio::spawn(lane(self.ctx.clone(), rx));
                    tx
                })
                .collect()
        });
        &lanes[(self.hasher.hash_one(did) % lanes.len() as u64) as usize]
    }

    async fn submit(&self, did: &str, work: Work) -> oneshot::Receiver<Checked> {
        let (reply, rx) = oneshot::channel();
        // A lane only ends when the pool is dropped; a send error then drops the reply,
        // which the receiver sees as an internal error.
        let _ = self.lane(did).send(Job { work, reply }).await;
        rx
    }

    /// Queues the check of a `#commit` on its DID's lane.
    pub async fn commit(&self, c: Commit) -> oneshot::Receiver<Checked> {
        let did = c.repo.clone();
        self.submit(&did, Work::Commit(Box::new(c))).await
    }

    /// Queues the check of a `#sync` on its DID's lane.
    pub async fn sync(&self, e: SyncEvent) -> oneshot::Receiver<Checked> {
        let did = e.did.clone();
        self.submit(&did, Work::Sync(e)).await
    }
}

async fn lane(ctx: Arc<Ctx>, mut rx: mpsc::Receiver<Job>) {
    while let Some(Job { work, reply }) = rx.recv().await {
        let out = match work {
            Work::Commit(c) => {
                let check = check_commit(&ctx, &c).await;
                Checked::Commit(c, check)
            }
            Work::Sync(e) => {
                let check = check_sync(&ctx, &e).await;
                Checked::Sync(e, check)
            }
        };
        // The processor may have stopped waiting (shutdown): nothing to do then.
        let _ = reply.send(out);
    }
}

/// The DID's signing key, waiting at most `key_timeout`.
async fn key(ctx: &Ctx, did: &syntax::Did, refresh: bool) -> Result<repo::PublicKey, Reject> {
    match tokio::time::timeout(ctx.key_timeout, ctx.identity.signing_key(did, refresh)).await {
        Ok(Ok(k)) => Ok(k),
        Ok(Err(e)) => Err(Reject::NoKey(e.to_string())),
        Err(_) => Err(Reject::NoKey(format!(
            "no answer within {:?}",
            ctx.key_timeout
        ))),
    }
}

/// Verifies with the cached key, then once more after a forced DID refresh (at most one
/// per DID per [`KEY_REFRESH_INTERVAL`]).
async fn verify_signature<'a>(
    ctx: &Ctx,
    did: &syntax::Did,
    car: repo::CommitCar<'a>,
) -> Result<repo::VerifiedCommit<'a>, Reject> {
    let k = key(ctx, did, false).await?;
    let car = match car.verified_or_back(&k) {
        Ok(v) => return Ok(v),
        Err(car) => car,
    };
    let now = Instant::now();
    {
        let Ok(mut m) = ctx.refreshed.lock() else {
            return Err(Reject::Signature);
        };
        if let Some(t) = m.get(did.as_str())
            && now.duration_since(*t) < KEY_REFRESH_INTERVAL
        {
            return Err(Reject::Signature);
        }
        if m.len() >= MAX_REFRESHED {
            m.clear();
        }
        m.insert(did.to_string(), now);
    }
    let k = key(ctx, did, true).await?;
    car.verified_or_back(&k).map_err(|_| Reject::Signature)
}

/// The string form of a hash-checked CID, typed (a CID the syntax rules refuse is bad syntax).
fn text_cid(cid: &repo::Cid) -> Result<syntax::Cid, Reject> {
    syntax::Cid::parse(&cid.to_string()).map_err(|e| Reject::Syntax(format!("CID: {e}")))
}

/// Why `c`'s envelope or CAR is unusable, if it is (the checks before any key).
pub fn parse_error(c: &Commit) -> Option<Reject> {
    parse_commit(&envelope(c), now_micros()).err()
}

async fn check_commit(ctx: &Ctx, c: &Commit) -> CommitCheck {
    let env = envelope(c);
    let parsed = match parse_commit(&env, now_micros()) {
        Ok(p) => p,
        Err(r) => return CommitCheck::Parse(r),
    };
    let (did, rev) = (parsed.did, parsed.rev);
    let verified = match verify_signature(ctx, &did, parsed.car).await {
        Ok(v) => v,
        Err(r) => return CommitCheck::Signature(r),
    };
    let data = match text_cid(&verified.commit().data) {
        Ok(d) => d,
        Err(r) => return CommitCheck::Parse(r),
    };
    match admit_commit(&verified, &parsed.ops, c.prev_data.as_ref()) {
        Ok(admitted) => CommitCheck::Ok {
            did,
            rev,
            data,
            admitted,
        },
        Err(r) => CommitCheck::Admit(r),
    }
}

async fn check_sync(ctx: &Ctx, e: &SyncEvent) -> SyncCheck {
    let parsed = match parse_sync(&e.did, &e.rev, &e.blocks, now_micros()) {
        Ok(p) => p,
        Err(r) => return SyncCheck::Parse(r),
    };
    let (did, rev) = (parsed.did, parsed.rev);
    match verify_signature(ctx, &did, parsed.car).await {
        Ok(v) => match (text_cid(&v.commit().data), text_cid(v.cid())) {
            (Ok(data), Ok(commit)) => SyncCheck::Ok {
                did,
                rev,
                data,
                commit,
            },
            (Err(r), _) | (_, Err(r)) => SyncCheck::Parse(r),
        },
        Err(r) => SyncCheck::Signature(r),
    }
}
