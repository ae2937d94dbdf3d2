//! The processing stage: full decode and verification of the frames the gate forwarded,
//! turned into [`store::Change`]s collected in a pending batch.
//!
//! One `Processor` handles events strictly in stream order, so events of one DID are
//! applied in order and the cursor is simply the last seq handled. Expensive work (ECDSA,
//! inversion) happens only here, for the few commits that matter.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::{Batch, Change, StatsDelta};
use tokio::sync::mpsc;

use crate::filter::INBOX_COLLECTION;
use crate::frame::{Commit, Frame, SyncEvent};
use crate::gate::{Item, TrackedSet};
use crate::metrics as m;
use crate::record::{INBOX_RKEY, parse_inbox_record, split_path};
use crate::source::IdentitySource;
use crate::verify::{self, Reject};
use crate::worker::Job;

/// Sync 1.1 state of a tracked repo, as last applied (or queued to be applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemRepo {
    /// Last commit rev.
    pub rev: String,
    /// MST root CID of that commit.
    pub data: String,
    /// Commit CID.
    pub commit: String,
}

/// Per-DID repo states shared by the processor and the resync worker (newer rev wins).
pub type RepoCache = Arc<Mutex<HashMap<String, MemRepo>>>;

/// Records `state` for `did` unless a newer rev is already known.
pub fn remember_repo(cache: &RepoCache, did: &str, state: MemRepo) {
    if let Ok(mut m) = cache.lock() {
        match m.get(did) {
            Some(old) if old.rev >= state.rev => {}
            _ => {
                m.insert(did.to_owned(), state);
            }
        }
    }
}

/// What happened to one forwarded item (used by tests and fixture replays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Checked and applied (or acknowledged).
    Accepted,
    /// Not applied, without a verdict against it (stale rev, inactive account...).
    Ignored(&'static str),
    /// Failed verification: dropped with a counted, logged reason.
    Rejected(Reject),
    /// A skip marker (frames dropped by the gate).
    Skipped,
}

/// Bound on the in-memory per-DID maps used for audit mode and account status.
const MAX_MEMORY_DIDS: usize = 1_000_000;
/// Minimum time between two forced DID refreshes for the same DID.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The processing stage state.
pub struct Processor {
    verify_all: bool,
    identity: Arc<dyn IdentitySource>,
    reader: store::Reader,
    tracked: TrackedSet,
    repos: RepoCache,
    loaded: HashSet<String>,
    inactive: HashSet<String>,
    audit_revs: HashMap<String, String>,
    key_refreshed: HashMap<String, Instant>,
    jobs: mpsc::Sender<Job>,
    changes: Vec<Change>,
    events: usize,
    cursor: Option<i64>,
    stats: StatsDelta,
    last_time: Option<String>,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("verify_all", &self.verify_all)
            .field("events", &self.events)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Processor {
    /// A processor writing into batches; `jobs` feeds the resync/identity worker.
    pub fn new(
        verify_all: bool,
        identity: Arc<dyn IdentitySource>,
        reader: store::Reader,
        tracked: TrackedSet,
        repos: RepoCache,
        jobs: mpsc::Sender<Job>,
    ) -> Self {
        Self {
            verify_all,
            identity,
            reader,
            tracked,
            repos,
            loaded: HashSet::new(),
            inactive: HashSet::new(),
            audit_revs: HashMap::new(),
            key_refreshed: HashMap::new(),
            jobs,
            changes: Vec::new(),
            events: 0,
            cursor: None,
            stats: StatsDelta::default(),
            last_time: None,
        }
    }

    /// Events handled since the last [`Processor::take_batch`].
    pub fn pending_events(&self) -> usize {
        self.events
    }

    /// The `time` of the last event handled (for lag).
    pub fn last_event_time(&self) -> Option<&str> {
        self.last_time.as_deref()
    }

    /// Takes the pending batch (changes, cursor, stats); `None` when nothing happened.
    pub fn take_batch(&mut self) -> Option<Batch> {
        if self.events == 0 && self.changes.is_empty() {
            return None;
        }
        self.events = 0;
        Some(Batch {
            changes: std::mem::take(&mut self.changes),
            cursor: self.cursor.take(),
            stats: std::mem::take(&mut self.stats),
        })
    }

    fn is_tracked(&self, did: &str) -> bool {
        self.tracked
            .read()
            .map(|s| s.contains(did))
            .unwrap_or(false)
    }

    fn track(&self, did: &str) {
        if let Ok(mut s) = self.tracked.write()
            && !s.contains(did)
        {
            s.insert(did.to_owned());
        }
    }

    fn schedule(&self, job: Job) {
        let what = job.label();
        if self.jobs.try_send(job).is_err() {
            metrics::counter!(m::RESYNCS, "outcome" => "queue_full").increment(1);
            tracing::warn!(
                job = what,
                "resync queue full; job dropped (the next gap will retry)"
            );
        } else if what == "resync" {
            metrics::counter!(m::RESYNCS, "outcome" => "scheduled").increment(1);
        }
    }

    /// The stored repo state of a tracked DID (memory first, then the store once).
    async fn repo_state(&mut self, did: &str) -> Option<MemRepo> {
        if let Some(s) = self.repos.lock().ok().and_then(|m| m.get(did).cloned()) {
            return Some(s);
        }
        if self.loaded.contains(did) {
            return None;
        }
        if self.loaded.len() >= MAX_MEMORY_DIDS {
            self.loaded.clear();
        }
        self.loaded.insert(did.to_owned());
        match self.reader.repo_state(did).await {
            Ok(Some(s)) => {
                let mem = MemRepo {
                    rev: s.rev,
                    data: s.data_cid,
                    commit: s.commit_cid,
                };
                remember_repo(&self.repos, did, mem.clone());
                Some(mem)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(did, error = %e, "could not read repo state");
                None
            }
        }
    }

    /// Handles one item from the gate.
    pub async fn process(&mut self, item: Item) -> Outcome {
        self.events += 1;
        let (seq, bytes) = match item {
            Item::Skipped { frames, last_seq } => {
                self.stats.frames += frames;
                if last_seq.is_some() {
                    self.cursor = last_seq;
                }
                self.events += frames.saturating_sub(1) as usize;
                return Outcome::Skipped;
            }
            Item::Frame { seq, bytes, .. } => (seq, bytes),
        };
        self.stats.frames += 1;
        self.cursor = Some(seq);
        let frame = match Frame::decode(&bytes) {
            Ok(f) => f,
            Err(e) => {
                metrics::counter!(m::FRAME_ERRORS, "reason" => e.label()).increment(1);
                tracing::warn!(seq, error = %e, "forwarded frame failed full decode; skipped");
                return Outcome::Ignored("malformed");
            }
        };
        let outcome = match frame {
            Frame::Commit(c) => {
                self.last_time = Some(c.time.clone());
                self.commit(c).await
            }
            Frame::Sync(e) => {
                self.last_time = Some(e.time.clone());
                self.sync(e).await
            }
            Frame::Identity(e) => self.identity(&e.did),
            Frame::Handle(e) => self.identity(&e.did),
            Frame::Migrate(e) => self.identity(&e.did),
            Frame::Account(e) => self.account(&e.did, e.active, e.status),
            Frame::Tombstone(e) => self.account(&e.did, false, Some("deleted".into())),
            Frame::Info(_) | Frame::Error(_) | Frame::Unknown { .. } => Outcome::Ignored("unknown"),
        };
        if let Outcome::Ignored(why) = &outcome {
            metrics::counter!(m::EVENTS_IGNORED, "reason" => *why).increment(1);
        }
        outcome
    }

    fn identity(&mut self, did: &str) -> Outcome {
        if self.is_tracked(did) {
            self.schedule(Job::Identity(did.to_owned()));
        }
        Outcome::Accepted
    }

    /// Whether the last `#account` event for `did` said it is inactive (the account state the
    /// relay scenarios' `update` verdicts are about).
    #[cfg(test)]
    pub(crate) fn is_inactive(&self, did: &str) -> bool {
        self.inactive.contains(did)
    }

    fn account(&mut self, did: &str, active: bool, status: Option<String>) -> Outcome {
        if active {
            self.inactive.remove(did);
        } else {
            if self.inactive.len() >= MAX_MEMORY_DIDS {
                self.inactive.clear();
            }
            self.inactive.insert(did.to_owned());
        }
        if self.is_tracked(did) {
            self.changes.push(Change::AccountStatus {
                did: did.to_owned(),
                active,
                status,
            });
        }
        Outcome::Accepted
    }

    fn reject(&mut self, did: &str, seq: i64, r: Reject) -> Outcome {
        self.stats.commits_rejected += 1;
        metrics::counter!(m::COMMITS_REJECTED, "reason" => r.label()).increment(1);
        tracing::warn!(did, seq, reason = r.label(), error = %r, "commit rejected");
        if self.is_tracked(did) {
            // An unusable commit of a tracked repo (or one we could not check for lack of
            // a key): its record state is now uncertain, so refetch it with a proof.
            self.schedule(Job::Resync(did.to_owned()));
        }
        Outcome::Rejected(r)
    }

    /// Verifies with the cached key, then once more after a forced DID refresh.
    async fn verify_signature(&mut self, did: &str, signed: &repo::Commit) -> Result<(), Reject> {
        let key = self
            .identity
            .signing_key(did, false)
            .await
            .map_err(|e| Reject::NoKey(e.to_string()))?;
        if verify::check_signature(signed, &key).is_ok() {
            return Ok(());
        }
        let now = Instant::now();
        if let Some(t) = self.key_refreshed.get(did)
            && now.duration_since(*t) < KEY_REFRESH_INTERVAL
        {
            return Err(Reject::Signature);
        }
        if self.key_refreshed.len() >= MAX_MEMORY_DIDS {
            self.key_refreshed.clear();
        }
        self.key_refreshed.insert(did.to_owned(), now);
        let key = self
            .identity
            .signing_key(did, true)
            .await
            .map_err(|e| Reject::NoKey(e.to_string()))?;
        verify::check_signature(signed, &key)
    }

    /// The stored state of `did` when tracked; `Err(stale_rev)` when `rev` is not newer
    /// than the last rev we know for it (a replay or an out-of-order event).
    async fn newer_than_known(
        &mut self,
        did: &str,
        rev: &str,
        tracked: bool,
    ) -> Result<Option<MemRepo>, Outcome> {
        let state = if tracked {
            self.repo_state(did).await
        } else {
            None
        };
        match self.known_rev(did, &state) {
            Some(known) if rev <= known.as_str() => Err(Outcome::Ignored("stale_rev")),
            _ => Ok(state),
        }
    }

    /// Counts a commit (or `#sync`) whose signature and proof checked out.
    fn verified(&mut self, did: &str, rev: &str) {
        self.stats.commits_verified += 1;
        metrics::counter!(m::COMMITS_VERIFIED).increment(1);
        self.remember_audit_rev(did, rev);
    }

    fn known_rev(&self, did: &str, state: &Option<MemRepo>) -> Option<String> {
        state
            .as_ref()
            .map(|s| s.rev.clone())
            .or_else(|| self.audit_revs.get(did).cloned())
    }

    fn remember_audit_rev(&mut self, did: &str, rev: &str) {
        if !self.verify_all {
            return;
        }
        if self.audit_revs.len() >= MAX_MEMORY_DIDS {
            self.audit_revs.clear();
        }
        self.audit_revs.insert(did.to_owned(), rev.to_owned());
    }

    async fn commit(&mut self, c: Commit) -> Outcome {
        let did = c.repo.as_str();
        if self.inactive.contains(did) {
            return Outcome::Ignored("inactive");
        }
        let touches = c
            .ops
            .iter()
            .any(|o| split_path(&o.path).is_some_and(|(col, _)| col == INBOX_COLLECTION));
        let tracked = touches || self.is_tracked(did);
        let state = match self.newer_than_known(did, &c.rev, tracked).await {
            Ok(state) => state,
            Err(stale) => return stale,
        };
        let parsed = match verify::parse_commit(&c, now_micros()) {
            Ok(p) => p,
            Err(r) => return self.reject(did, c.seq, r),
        };
        if let Err(r) = self.verify_signature(did, &parsed.signed).await {
            return self.reject(did, c.seq, r);
        }
        let inverted = match verify::check_inversion(&c, &parsed) {
            Ok(v) => v,
            Err(r) => return self.reject(did, c.seq, r),
        };
        self.verified(did, &c.rev);
        if !tracked {
            return Outcome::Accepted;
        }
        let data = parsed.signed.data.to_string();
        if let Some(known) = &state {
            let prev_ok = c.prev_data.map(|p| p.to_string() == known.data);
            if c.since.as_deref() != Some(known.rev.as_str()) || prev_ok == Some(false) {
                tracing::info!(
                    did,
                    seq = c.seq,
                    "repo chain broken (since/prevData); resync"
                );
                self.schedule(Job::Resync(did.to_owned()));
            }
        }
        if !inverted {
            tracing::debug!(
                did,
                seq = c.seq,
                "legacy commit without prevData: chain unverified"
            );
        }
        for op in &c.ops {
            let Some((col, rkey)) = split_path(&op.path) else {
                continue;
            };
            if col != INBOX_COLLECTION {
                continue;
            }
            if rkey != INBOX_RKEY {
                metrics::counter!(m::INBOX_RECORDS, "outcome" => "ignored_rkey").increment(1);
                tracing::info!(
                    did,
                    seq = c.seq,
                    rkey,
                    "org.xmtp.inbox record with rkey other than self ignored"
                );
                continue;
            }
            match (op.action.as_str(), &op.cid) {
                ("create" | "update", Some(cid)) => {
                    // parse_commit checked the block is present and hashes to its CID.
                    let block = parsed.car.get(cid).unwrap_or(&[]);
                    let record = parse_inbox_record(&cid.to_string(), block);
                    let outcome = if record.malformed.is_some() {
                        "malformed"
                    } else {
                        "put"
                    };
                    metrics::counter!(m::INBOX_RECORDS, "outcome" => outcome).increment(1);
                    // The repo's #identity events were filtered out while it was untracked,
                    // so (re)learn its verified handle whenever its record changes (rare).
                    self.schedule(Job::Identity(did.to_owned()));
                    self.changes.push(Change::PutRecord {
                        did: did.to_owned(),
                        rev: Some(c.rev.clone()),
                        record,
                    });
                }
                _ => {
                    metrics::counter!(m::INBOX_RECORDS, "outcome" => "delete").increment(1);
                    self.changes.push(Change::DeleteRecord {
                        did: did.to_owned(),
                        rev: Some(c.rev.clone()),
                    });
                }
            }
        }
        self.track(did);
        let mem = MemRepo {
            rev: c.rev.clone(),
            data,
            commit: c.commit.to_string(),
        };
        self.changes.push(Change::RepoState {
            did: did.to_owned(),
            rev: mem.rev.clone(),
            data_cid: mem.data.clone(),
            commit_cid: mem.commit.clone(),
        });
        remember_repo(&self.repos, did, mem);
        Outcome::Accepted
    }

    async fn sync(&mut self, e: SyncEvent) -> Outcome {
        let did = e.did.as_str();
        let tracked = self.is_tracked(did);
        if !tracked && !self.verify_all {
            return Outcome::Ignored("untracked");
        }
        let state = match self.newer_than_known(did, &e.rev, tracked).await {
            Ok(state) => state,
            Err(stale) => return stale,
        };
        let parsed = match verify::parse_sync(&e, now_micros()) {
            Ok(p) => p,
            Err(r) => return self.reject(did, e.seq, r),
        };
        if let Err(r) = self.verify_signature(did, &parsed.signed).await {
            return self.reject(did, e.seq, r);
        }
        self.verified(did, &e.rev);
        if tracked {
            let data = parsed.signed.data.to_string();
            if state.as_ref().is_some_and(|s| s.data == data) {
                let commit = parsed
                    .car
                    .roots()
                    .first()
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                let mem = MemRepo {
                    rev: e.rev.clone(),
                    data,
                    commit,
                };
                self.changes.push(Change::RepoState {
                    did: did.to_owned(),
                    rev: mem.rev.clone(),
                    data_cid: mem.data.clone(),
                    commit_cid: mem.commit.clone(),
                });
                remember_repo(&self.repos, did, mem);
            } else {
                tracing::info!(did, seq = e.seq, "#sync with new repo state; resync");
                self.schedule(Job::Resync(did.to_owned()));
            }
        }
        Outcome::Accepted
    }
}
