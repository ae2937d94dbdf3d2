//! The processing stage: full decode and verification of the frames the gate forwarded,
//! turned into [`store::Change`]s collected in a pending batch.
//!
//! One `Processor` handles events strictly in stream order, so events of one DID are
//! applied in order and the cursor is simply the last seq handled. What may change the
//! index is decided by [`sync::admit`]: every `org.xmtp.inbox/self` change is proven against
//! the signed root, and a tracked repo must continue its chain.
//!
//! The stream never waits on the network for long: a signing key that does not arrive
//! within `key_timeout` (PLC down, a did:web host that tarpits) desynchronizes the repo
//! instead. A desynchronized repo is written to the durable resync queue in the same batch
//! as the cursor that passed the event, its events are not applied until the resync worker
//! lands a proof-checked `getRecord`, and other accounts' commits flow on.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::{Batch, Change, ResyncChange, StatsDelta};
use sync::commit::{Envelope, EnvelopeOp};
use sync::{Continuity, InboxChange, Reject, RepoPoint, continuity};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::frame::{Commit, Frame, FrameError, SyncEvent};
use crate::gate::{Item, TrackedSet};
use crate::metrics as m;
use crate::verify::{Checked, CommitCheck, Pool, SyncCheck};
use sync::IdentitySource;
use sync::record::split_path;
use syntax::{Did, Tid};

/// Sync 1.1 state of a tracked repo, as last applied (or queued to be applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemRepo {
    /// Last commit rev.
    pub rev: Tid,
    /// MST root CID of that commit (`None` when unknown, e.g. a rev floor).
    pub data: Option<syntax::Cid>,
    /// Commit CID (`None` when unknown).
    pub commit: Option<syntax::Cid>,
}

impl MemRepo {
    /// The state after a checked commit or `#sync`.
    fn checked(rev: &Tid, data: &syntax::Cid, commit: &syntax::Cid) -> Self {
        MemRepo {
            rev: rev.clone(),
            data: Some(data.clone()),
            commit: Some(commit.clone()),
        }
    }
}

/// Per-DID repo states shared by the processor and the resync worker (newer rev wins).
pub type RepoCache = Arc<Mutex<HashMap<String, MemRepo>>>;

/// DIDs whose repos are desynchronized: their events wait for a resync.
pub type DesyncSet = Arc<Mutex<HashSet<String>>>;

/// Records `state` for `did` unless a newer rev is already known.
pub(crate) fn remember_repo(cache: &RepoCache, did: &str, state: MemRepo) {
    if let Ok(mut m) = cache.lock() {
        match m.get(did) {
            Some(old) if old.rev >= state.rev => {}
            _ => {
                m.insert(did.to_owned(), state);
            }
        }
    }
}

/// What the processor shares with the resync worker.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// DIDs whose events are processed.
    pub tracked: TrackedSet,
    /// Last applied repo states.
    pub repos: RepoCache,
    /// Desynchronized repos.
    pub desynced: DesyncSet,
    /// Poked after a batch that queued resyncs was written.
    pub wake: Arc<Notify>,
}

impl Shared {
    /// Whether `did`'s repo is desynchronized.
    pub(crate) fn is_desynced(&self, did: &str) -> bool {
        self.desynced
            .lock()
            .map(|s| s.contains(did))
            .unwrap_or(false)
    }
}

/// What happened to one forwarded item (used by tests and fixture replays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Checked and applied (or acknowledged).
    Accepted,
    /// Not applied, without a verdict against it (stale rev, inactive account...).
    Ignored(&'static str),
    /// Not applied now: the repo is desynchronized and waits for a resync (reason).
    Deferred(&'static str),
    /// Failed verification: dropped with a counted, logged reason.
    Rejected(Reject),
    /// A skip marker (frames dropped by the gate).
    Skipped,
}

/// Bound on the in-memory per-DID maps used for audit mode and account status.
const MAX_MEMORY_DIDS: usize = 1_000_000;

/// Settings of the processing stage.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// Audit mode: verify every commit.
    pub verify_all: bool,
    /// How long the stream waits for a signing key before deferring the repo to a resync.
    pub key_timeout: Duration,
    /// Lanes of the verification pool ([`crate::verify`]); 0 = one per CPU (2 to 8).
    pub verify_workers: usize,
}

/// A forwarded item, decoded in stream order, whose check may still be running on the
/// verification pool. [`Processor::finish`] applies it (in stream order).
#[derive(Debug)]
pub struct Prepared {
    seq: Option<i64>,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Skipped {
        frames: u64,
        last_seq: Option<i64>,
    },
    Malformed(FrameError),
    Frame(Frame),
    Checking(oneshot::Receiver<Checked>),
    Checked(Checked),
    /// The pool dropped the job (only when it is shutting down).
    Lost,
}

impl Prepared {
    /// Whether [`Processor::finish`] can run without waiting on the pool (takes the
    /// check's result if it is there).
    pub fn poll_ready(&mut self) -> bool {
        if let Body::Checking(rx) = &mut self.body {
            match rx.try_recv() {
                Ok(c) => self.body = Body::Checked(c),
                Err(oneshot::error::TryRecvError::Empty) => return false,
                Err(oneshot::error::TryRecvError::Closed) => self.body = Body::Lost,
            }
        }
        true
    }

    /// Waits until the item's check is done.
    pub async fn ready(&mut self) {
        if let Body::Checking(rx) = &mut self.body {
            self.body = match rx.await {
                Ok(c) => Body::Checked(c),
                Err(_) => Body::Lost,
            };
        }
    }
}

/// The processing stage state.
pub struct Processor {
    cfg: ProcessorConfig,
    pool: Pool,
    reader: store::Reader,
    shared: Shared,
    loaded: HashSet<String>,
    inactive: HashSet<String>,
    audit_revs: HashMap<String, String>,
    identity_jobs: mpsc::Sender<String>,
    changes: Vec<Change>,
    events: usize,
    cursor: Option<i64>,
    stats: StatsDelta,
    last_time: Option<String>,
    queued_resyncs: bool,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("cfg", &self.cfg)
            .field("events", &self.events)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// The envelope view of a `#commit` frame that `sync` checks.
pub fn envelope(c: &Commit) -> Envelope<'_> {
    Envelope {
        did: &c.repo,
        rev: &c.rev,
        since: c.since.as_deref(),
        commit: c.commit,
        prev_data: c.prev_data,
        blocks: &c.blocks,
        ops: c
            .ops
            .iter()
            .map(|o| EnvelopeOp {
                action: &o.action,
                path: &o.path,
                cid: o.cid,
                prev: o.prev,
            })
            .collect(),
    }
}

impl Processor {
    /// A processor writing into batches; `identity_jobs` feeds handle refreshes.
    pub fn new(
        cfg: ProcessorConfig,
        identity: Arc<dyn IdentitySource>,
        reader: store::Reader,
        shared: Shared,
        identity_jobs: mpsc::Sender<String>,
    ) -> Self {
        let workers = match cfg.verify_workers {
            0 => crate::verify::default_workers(),
            n => n,
        };
        Self {
            pool: Pool::new(identity, cfg.key_timeout, workers),
            cfg,
            reader,
            shared,
            loaded: HashSet::new(),
            inactive: HashSet::new(),
            audit_revs: HashMap::new(),
            identity_jobs,
            changes: Vec::new(),
            events: 0,
            cursor: None,
            stats: StatsDelta::default(),
            last_time: None,
            queued_resyncs: false,
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

    /// True once if the last batch taken queued a resync (the worker should look now).
    pub fn take_queued_resyncs(&mut self) -> bool {
        std::mem::take(&mut self.queued_resyncs)
    }

    /// What the processor shares with the worker.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    fn is_tracked(&self, did: &str) -> bool {
        self.shared.tracked.contains(did)
    }

    fn track(&self, did: &str) {
        self.shared.tracked.insert(did);
    }

    /// Whether the index holds `handle` for some DID (a probe of the index: the handles it
    /// holds are not kept in memory). A failed probe counts as held: the claim is then
    /// verified, which costs one identity lookup.
    fn holds_handle(&self, handle: &str) -> bool {
        self.reader.holds_handle(handle).unwrap_or_else(|e| {
            tracing::warn!(handle, error = %e, "could not probe the index for a handle");
            true
        })
    }

    fn refresh_identity(&self, did: &str) {
        if self.identity_jobs.try_send(did.to_owned()).is_err() {
            // Handles are re-verified every --reverify-after too: a dropped refresh only
            // delays a handle, never a link.
            metrics::counter!(m::RESYNCS, "outcome" => "identity_queue_full").increment(1);
        }
    }

    /// Queues a durable resync of `did` (written with this batch's cursor) and holds its
    /// events until it lands. `rev` is the rev of the event not applied, so a resync that
    /// lands older is repeated; pass it only when the event itself is to be believed (the
    /// rev rule bounds it to 5 minutes ahead, and repeats back off).
    /// A DID or rev the frame carries is parsed here, as the queue row is written: a DID that
    /// does not parse cannot be resynced (counted as `bad_did`, nothing queued), and a rev
    /// that does not parse is not remembered.
    fn desync(&mut self, did: &str, reason: &'static str, rev: Option<&str>, hold: bool) {
        let Ok(typed) = Did::parse(did) else {
            metrics::counter!(m::RESYNCS, "outcome" => "bad_did", "reason" => reason).increment(1);
            tracing::warn!(did, reason, "DID does not parse; no resync queued");
            return;
        };
        if hold && let Ok(mut s) = self.shared.desynced.lock() {
            s.insert(did.to_owned());
        }
        metrics::counter!(m::RESYNCS, "outcome" => "queued", "reason" => reason).increment(1);
        self.changes.push(Change::Resync(ResyncChange::Desync {
            did: typed,
            reason: reason.to_owned(),
            rev: rev.and_then(|r| Tid::parse(r).ok()),
        }));
        self.queued_resyncs = true;
    }

    /// The stored repo state of a tracked DID (memory first, then the store once).
    async fn repo_state(&mut self, did: &str) -> Option<MemRepo> {
        if let Some(s) = self
            .shared
            .repos
            .lock()
            .ok()
            .and_then(|m| m.get(did).cloned())
        {
            return Some(s);
        }
        if self.loaded.contains(did) {
            return None;
        }
        if self.loaded.len() >= MAX_MEMORY_DIDS {
            self.loaded.clear();
        }
        self.loaded.insert(did.to_owned());
        // Typed by the store: a stored row that does not parse reads as none (counted in
        // `store_bad_rows_total`).
        let state = match self.reader.repo_state(did).await {
            Ok(Some(s)) => Ok(Some(MemRepo::checked(&s.rev, &s.data_cid, &s.commit_cid))),
            // Only a rev (a record change, or the floor a deleted account keeps): older
            // commits are stale all the same.
            Ok(None) => self.reader.repo_rev(did).await.map(|rev| {
                rev.map(|rev| MemRepo {
                    rev,
                    data: None,
                    commit: None,
                })
            }),
            Err(e) => Err(e),
        };
        match state {
            Ok(Some(mem)) => {
                remember_repo(&self.shared.repos, did, mem.clone());
                Some(mem)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(did, error = %e, "could not read repo state");
                None
            }
        }
    }

    /// Handles one item from the gate (prepare, wait for its check, finish).
    pub async fn process(&mut self, item: Item) -> Outcome {
        let mut p = self.prepare(item).await;
        p.ready().await;
        self.finish(p).await
    }

    /// Decodes a forwarded item (in stream order) and queues its commit or `#sync` check
    /// on the verification pool. Waits only when the DID's lane queue is full.
    pub async fn prepare(&self, item: Item) -> Prepared {
        let (seq, bytes) = match item {
            Item::Skipped { frames, last_seq } => {
                return Prepared {
                    seq: None,
                    body: Body::Skipped { frames, last_seq },
                };
            }
            Item::Frame { seq, bytes, .. } => (seq, bytes),
        };
        let body = match Frame::decode(&bytes) {
            Err(e) => Body::Malformed(e),
            // A desynchronized repo's commits wait for its resync: no key is asked for
            // them (its host may be the one failing); `finish` checks one if needed after all.
            Ok(Frame::Commit(c)) if self.shared.is_desynced(&c.repo) => {
                Body::Frame(Frame::Commit(c))
            }
            Ok(Frame::Commit(c)) => Body::Checking(self.pool.commit(c).await),
            Ok(Frame::Sync(e)) if self.cfg.verify_all || self.is_tracked(&e.did) => {
                Body::Checking(self.pool.sync(e).await)
            }
            Ok(f) => Body::Frame(f),
        };
        Prepared {
            seq: Some(seq),
            body,
        }
    }

    /// Applies a prepared item (call in stream order, after [`Prepared::ready`]).
    pub async fn finish(&mut self, p: Prepared) -> Outcome {
        self.events += 1;
        let seq = match (p.seq, &p.body) {
            (_, Body::Skipped { frames, last_seq }) => {
                self.stats.frames += frames;
                if last_seq.is_some() {
                    self.cursor = *last_seq;
                }
                self.events += frames.saturating_sub(1) as usize;
                return Outcome::Skipped;
            }
            (Some(seq), _) => seq,
            (None, _) => return Outcome::Ignored("malformed"),
        };
        self.stats.frames += 1;
        self.cursor = Some(seq);
        let outcome = match p.body {
            Body::Skipped { .. } => Outcome::Skipped,
            Body::Malformed(e) => {
                metrics::counter!(m::FRAME_ERRORS, "reason" => e.label()).increment(1);
                tracing::warn!(seq, error = %e, "forwarded frame failed full decode; skipped");
                return Outcome::Ignored("malformed");
            }
            Body::Checking(_) | Body::Lost => {
                // Only when the pool is gone (shutdown): the event is not applied, and
                // the batch holding this cursor is never written.
                tracing::error!(seq, "commit check lost (verification pool stopped)");
                Outcome::Ignored("internal")
            }
            Body::Checked(Checked::Commit(c, check)) => {
                self.last_time = Some(c.time.clone());
                self.commit(*c, Some(check)).await
            }
            Body::Checked(Checked::Sync(e, check)) => {
                self.last_time = Some(e.time.clone());
                self.sync(e, Some(check)).await
            }
            Body::Frame(frame) => match frame {
                Frame::Commit(c) => {
                    self.last_time = Some(c.time.clone());
                    self.commit(c, None).await
                }
                Frame::Sync(e) => {
                    self.last_time = Some(e.time.clone());
                    self.sync(e, None).await
                }
                Frame::Identity(e) => self.identity(&e.did, e.handle.as_deref()),
                Frame::Handle(e) => self.identity(&e.did, Some(&e.handle)),
                Frame::Migrate(e) => self.identity(&e.did, None),
                Frame::Account(e) => self.account(&e.did, e.active, e.status),
                Frame::Tombstone(e) => self.account(&e.did, false, Some("deleted".into())),
                Frame::Info(_) | Frame::Error(_) | Frame::Unknown { .. } => {
                    Outcome::Ignored("unknown")
                }
            },
        };
        match &outcome {
            Outcome::Ignored(why) => {
                metrics::counter!(m::EVENTS_IGNORED, "reason" => *why).increment(1);
            }
            Outcome::Deferred(why) => {
                metrics::counter!(m::EVENTS_DEFERRED, "reason" => *why).increment(1);
            }
            _ => {}
        }
        outcome
    }

    /// `#identity`: re-verify the handle of a tracked DID; and when an untracked DID claims
    /// a handle the index holds for another DID, verify the claim, so a verified takeover
    /// moves the handle (the store drops the older claim).
    fn identity(&mut self, did: &str, handle: Option<&str>) -> Outcome {
        if self.is_tracked(did) {
            self.refresh_identity(did);
        } else if handle.is_some_and(|h| self.holds_handle(h)) {
            metrics::counter!(m::HANDLE_CLAIMS).increment(1);
            self.refresh_identity(did);
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
            if status.as_deref() == Some("deleted") {
                // The store keeps a rev floor; forget our cached chain state.
                if let Ok(mut m) = self.shared.repos.lock() {
                    m.remove(did);
                }
                self.loaded.remove(did);
                if let Ok(mut s) = self.shared.desynced.lock() {
                    s.remove(did);
                }
            }
            // A tracked DID was parsed when it was first tracked: this parse cannot fail.
            if let Ok(did) = Did::parse(did) {
                self.changes.push(Change::AccountStatus {
                    did,
                    active,
                    status,
                });
            }
        }
        Outcome::Accepted
    }

    /// Counts and logs a rejection; a tracked repo is desynchronized. `signed_rev` is the
    /// commit's rev when its signature verified (an unsigned rev raises nothing).
    fn reject(
        &mut self,
        did: &str,
        seq: i64,
        signed_rev: Option<&str>,
        tracked: bool,
        r: Reject,
    ) -> Outcome {
        self.stats.commits_rejected += 1;
        metrics::counter!(m::COMMITS_REJECTED, "reason" => r.label()).increment(1);
        tracing::warn!(did, seq, reason = r.label(), error = %r, "commit rejected");
        if tracked {
            // An unusable commit of a tracked repo (or one we could not check for lack of
            // a key): its record state is now uncertain, so refetch it with a proof.
            self.desync(did, r.label(), signed_rev, true);
        }
        Outcome::Rejected(r)
    }

    /// Counts a commit (or `#sync`) whose signature and proof checked out.
    fn verified(&mut self, did: &str, rev: &str) {
        self.stats.commits_verified += 1;
        metrics::counter!(m::COMMITS_VERIFIED).increment(1);
        if !self.cfg.verify_all {
            return;
        }
        if self.audit_revs.len() >= MAX_MEMORY_DIDS {
            self.audit_revs.clear();
        }
        self.audit_revs.insert(did.to_owned(), rev.to_owned());
    }

    /// The applied state of `did` when tracked; `Err(stale_rev)` when `rev` is not newer
    /// than the last rev known for it (a replay or an out-of-order event).
    async fn state_if_newer(
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

    /// The last rev known for `did`: its applied state when tracked, else the audit map.
    fn known_rev(&self, did: &str, state: &Option<MemRepo>) -> Option<String> {
        state
            .as_ref()
            .map(|s| s.rev.as_str().to_owned())
            .or_else(|| self.audit_revs.get(did).cloned())
    }

    /// Applies a checked `#commit`: the checks on state (inactive, stale, desynchronized,
    /// chain) come first, in the order they always had, then the pool's verdict.
    async fn commit(&mut self, mut c: Commit, check: Option<CommitCheck>) -> Outcome {
        let did = c.repo.clone();
        let did = did.as_str();
        if self.inactive.contains(did) {
            return Outcome::Ignored("inactive");
        }
        let touches = c
            .ops
            .iter()
            .any(|o| split_path(&o.path).is_some_and(|(col, _)| col == sync::INBOX_COLLECTION));
        let tracked = touches || self.is_tracked(did);
        let state = match self.state_if_newer(did, &c.rev, tracked).await {
            Ok(state) => state,
            Err(stale) => return stale,
        };
        let check = match check {
            Some(k) => k,
            None if tracked && self.shared.is_desynced(did) => {
                // Not checked ahead (desynchronized when prepared): no key is asked for.
                if let Some(r) = crate::verify::parse_error(&c) {
                    return self.reject(did, c.seq, None, tracked, r);
                }
                self.desync(did, "desynchronized", Some(&c.rev), true);
                return Outcome::Deferred("desynchronized");
            }
            None => match self.pool.commit(c).await.await {
                Ok(Checked::Commit(back, k)) => {
                    c = *back;
                    k
                }
                Ok(Checked::Sync(..)) | Err(_) => return Outcome::Ignored("internal"),
            },
        };
        let (checked, admitted) = match check {
            CommitCheck::Parse(r) => return self.reject(did, c.seq, None, tracked, r),
            CommitCheck::Signature(_) | CommitCheck::Admit(_) | CommitCheck::Ok { .. }
                if tracked && self.shared.is_desynced(did) =>
            {
                (None, None)
            }
            CommitCheck::Signature(r) => return self.reject(did, c.seq, None, tracked, r),
            CommitCheck::Admit(r) => return self.reject(did, c.seq, Some(&c.rev), tracked, r),
            CommitCheck::Ok {
                did,
                rev,
                data,
                admitted,
            } => (Some((did, rev, data)), Some(admitted)),
        };
        if tracked && self.shared.is_desynced(did) {
            // Sync spec: a desynchronized repo's events wait for the resync; the queue
            // remembers the newest rev seen so the resync is repeated if it lands older.
            self.desync(did, "desynchronized", Some(&c.rev), true);
            return Outcome::Deferred("desynchronized");
        }
        // The DID and the rev, typed by `parse_commit` on the verification lane.
        let (Some((typed, rev, data)), Some(admitted)) = (checked, admitted) else {
            return Outcome::Ignored("internal");
        };
        self.verified(did, &c.rev);
        if !tracked {
            return Outcome::Accepted;
        }
        if let Some(known) = &state {
            let point = RepoPoint {
                rev: known.rev.clone(),
                data: known.data.clone(),
            };
            match continuity(&point, &rev, c.since.as_deref(), c.prev_data.as_ref()) {
                Continuity::Continuous => {}
                Continuity::Stale => return Outcome::Ignored("stale_rev"),
                Continuity::Broken(why) => {
                    tracing::info!(did, seq = c.seq, why, "repo chain broken; resync");
                    self.desync(did, why, Some(&c.rev), true);
                    return Outcome::Deferred(why);
                }
            }
        }
        for rkey in &admitted.ignored_rkeys {
            metrics::counter!(m::INBOX_RECORDS, "outcome" => "ignored_rkey").increment(1);
            tracing::info!(
                did,
                seq = c.seq,
                rkey,
                "org.xmtp.inbox record with rkey other than self ignored"
            );
        }
        match admitted.change {
            Some(InboxChange::Put(record)) => {
                let outcome = if record.malformed.is_some() {
                    "malformed"
                } else {
                    "put"
                };
                metrics::counter!(m::INBOX_RECORDS, "outcome" => outcome).increment(1);
                // The repo's #identity events were filtered out while it was untracked,
                // so (re)learn its verified handle whenever its record changes (rare).
                self.refresh_identity(did);
                self.changes.push(Change::PutRecord {
                    did: typed.clone(),
                    rev: Some(rev.clone()),
                    record,
                });
            }
            Some(InboxChange::Delete) => {
                metrics::counter!(m::INBOX_RECORDS, "outcome" => "delete").increment(1);
                self.changes.push(Change::DeleteRecord {
                    did: typed.clone(),
                    rev: Some(rev.clone()),
                });
            }
            None => {}
        }
        if state.is_none() {
            // First sight of this repo: confirm its account status and current record with
            // the PDS (a replayed old commit, or a takedown before we tracked it, is then
            // corrected). The commit itself is proven, so it is applied meanwhile.
            self.desync(did, "new_repo", Some(&c.rev), false);
        }
        self.track(did);
        // The envelope's commit CID is the signed block's (checked by `parse_commit`).
        let Ok(commit) = syntax::Cid::parse(&c.commit.to_string()) else {
            return Outcome::Ignored("internal");
        };
        remember_repo(
            &self.shared.repos,
            did,
            MemRepo::checked(&rev, &data, &commit),
        );
        self.changes.push(Change::RepoState {
            did: typed,
            rev,
            data_cid: data,
            commit_cid: commit,
        });
        Outcome::Accepted
    }

    /// Applies a `#sync`; `check` is `None` when it was not checked ahead (the DID was not
    /// tracked when it was prepared), and the check is then run now if still needed.
    async fn sync(&mut self, e: SyncEvent, check: Option<SyncCheck>) -> Outcome {
        let did = e.did.as_str();
        let tracked = self.is_tracked(did);
        if !tracked && !self.cfg.verify_all {
            return Outcome::Ignored("untracked");
        }
        let state = match self.state_if_newer(did, &e.rev, tracked).await {
            Ok(state) => state,
            Err(stale) => return stale,
        };
        let (e, check) = match check {
            Some(c) => (e, c),
            None => match self.pool.sync(e).await.await {
                Ok(Checked::Sync(e, c)) => (e, c),
                Ok(Checked::Commit(..)) | Err(_) => return Outcome::Ignored("internal"),
            },
        };
        let did = e.did.as_str();
        // The DID and the rev, typed by `parse_sync` on the verification lane.
        let (typed, rev, data, commit) = match check {
            SyncCheck::Parse(r) | SyncCheck::Signature(r) => {
                return self.reject(did, e.seq, None, tracked, r);
            }
            SyncCheck::Ok {
                did: typed,
                rev,
                data,
                commit,
            } => (typed, rev, data, commit),
        };
        self.verified(did, &e.rev);
        if !tracked {
            return Outcome::Accepted;
        }
        let same_data = state
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .is_some_and(|d| *d == data);
        if same_data && !self.shared.is_desynced(did) {
            remember_repo(
                &self.shared.repos,
                did,
                MemRepo::checked(&rev, &data, &commit),
            );
            self.changes.push(Change::RepoState {
                did: typed,
                rev,
                data_cid: data,
                commit_cid: commit,
            });
            Outcome::Accepted
        } else {
            tracing::info!(did, seq = e.seq, "#sync with new repo state; resync");
            self.desync(did, "sync_event", Some(&e.rev), true);
            Outcome::Deferred("sync_event")
        }
    }
}
