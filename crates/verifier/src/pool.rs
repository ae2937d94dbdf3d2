//! The verifier pool: rounds of `links_to_check` → group by inbox → fetch the new log
//! entries of ≤ 50 inboxes per request (incremental from the cached position) → replay →
//! check each link against the CURRENT installations → one store batch of verdicts and
//! inbox states. Transport faults and logs that cannot be evaluated leave a link `pending`
//! with a reason and a `RetryLater` with backoff, never `invalid`.

use crate::config::VerifierConfig;
use crate::inbox::{Advanced, advance, decode, scw_results, usable};
use crate::tier::Tier;
use crate::verdict::{Reason, Verdict, evaluate};
use backoff::{Jitter, Policy};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use store::{Batch, Change, CheckItem, LinkView, Reader, ReasonCode, Status, Writer};
use syntax::{Cid, Did};
use xmtp::CachedInbox;
use xmtp::api::{ApiError, IdentityApi, InboxLog};

pub(crate) use store::now_secs as unix_now;

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundStats {
    /// Links taken from the store.
    pub links: usize,
    /// Verified verdicts written.
    pub verified: usize,
    /// Invalid verdicts written.
    pub invalid: usize,
    /// Links put back with `RetryLater` after a transport fault.
    pub retried: usize,
    /// Links left `pending` because their inbox's log could not be evaluated (a
    /// smart-contract-wallet check the node could not run, an unsupported update).
    pub deferred: usize,
    /// Links of grown inboxes re-checked besides the round's own.
    pub rechecked_by_growth: usize,
}

/// A link to judge.
#[derive(Debug, Clone)]
struct Item {
    did: Did,
    /// The record's `inbox_id` as written: judged (a malformed one is a verdict).
    inbox_id: String,
    signature: String,
    record_cid: Cid,
    status: Status,
}

impl Item {
    /// A link to check as the store gives it (typed: a stored row that does not parse was
    /// skipped there, and counted in `store_bad_rows_total`).
    fn from_check(c: CheckItem) -> Item {
        Item {
            did: c.did,
            inbox_id: c.inbox_id,
            signature: c.verification_signature,
            record_cid: c.record_cid,
            status: c.status,
        }
    }

    fn from_link(l: LinkView) -> Item {
        Item {
            did: l.did,
            inbox_id: l.inbox_id,
            signature: l.record.verification_signature,
            record_cid: l.record.cid,
            status: l.status,
        }
    }
}

struct Ctx {
    reader: Reader,
    api: Arc<dyn IdentityApi>,
}

/// Whether `reason` says the XMTP side was not usable rather than that the signature is
/// wrong ([`ReasonCode::RECHECKED`]: no inbox yet, a log that did not replay, or one that
/// replayed to another inbox): links invalid for these are re-checked every
/// `reverify_after` (the store's query for them lists the same codes).
fn is_rechecked(reason: &str) -> bool {
    reason
        .parse::<ReasonCode>()
        .is_ok_and(|c| ReasonCode::RECHECKED.contains(&c))
}

/// Invalid links whose reason a new inbox state can change (re-checked on log growth).
fn rechecked_invalid(reason: Option<&str>) -> bool {
    reason
        .and_then(|r| r.parse::<ReasonCode>().ok())
        .is_some_and(|c| {
            ReasonCode::RECHECKED.contains(&c)
                || matches!(
                    c,
                    ReasonCode::SignatureMismatch | ReasonCode::InstallationRevoked
                )
        })
}

/// The result of one chunk of inboxes.
struct ChunkOut {
    changes: Vec<Change>,
    stats: RoundStats,
    /// Inboxes whose log grew past a cached state (the re-check tiers count that as
    /// activity).
    grown: Vec<String>,
}

fn record_verdict(v: &Verdict, item: &Item, out: &mut ChunkOut) {
    let reason = v.reason.as_ref().map(|r| r.code()).unwrap_or("");
    metrics::counter!("verifier_verdicts_total", "status" => v.status.as_str(), "reason" => reason)
        .increment(1);
    if v.is_verified() {
        out.stats.verified += 1;
    } else if v.status == Status::Pending {
        out.stats.deferred += 1;
        tracing::debug!(did = %item.did, inbox_id = %item.inbox_id, reason, "link left pending");
    } else {
        out.stats.invalid += 1;
        tracing::debug!(did = %item.did, inbox_id = %item.inbox_id, reason, "link not verified");
    }
    out.changes.push(v.to_change(&item.did, &item.record_cid));
}

async fn cached_state(reader: &Reader, inbox_id: &str) -> Option<CachedInbox> {
    match reader.inbox_state(inbox_id).await {
        Ok(Some((_, bytes))) => CachedInbox::from_bytes(&bytes).ok().and_then(usable),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, inbox_id, "reading cached inbox state failed; replaying from 0");
            None
        }
    }
}

/// One chunk: ≤ `inboxes_per_request` inboxes with their links.
async fn process_chunk(
    ctx: Arc<Ctx>,
    group: Vec<(String, Vec<Item>)>,
) -> Result<ChunkOut, (ApiError, Vec<Item>)> {
    let mut cached = Vec::with_capacity(group.len());
    for (inbox_id, _) in &group {
        cached.push(cached_state(&ctx.reader, inbox_id).await);
    }
    // Invalid logs are final: no need to ask the network about them again.
    let requests: Vec<(String, u64)> = group
        .iter()
        .zip(&cached)
        .filter(|(_, c)| !c.as_ref().is_some_and(CachedInbox::is_final_invalid))
        .map(|((id, _), c)| {
            (
                id.clone(),
                c.as_ref().map(CachedInbox::last_sequence_id).unwrap_or(0),
            )
        })
        .collect();
    let all_items = || {
        group
            .iter()
            .flat_map(|(_, items)| items.iter().cloned())
            .collect::<Vec<_>>()
    };
    let mut logs: HashMap<String, InboxLog> = HashMap::new();
    if !requests.is_empty() {
        let fetched = ctx
            .api
            .get_identity_updates(&requests)
            .await
            .map_err(|e| (e, all_items()))?;
        logs = fetched
            .into_iter()
            .map(|l| (l.inbox_id.clone(), l))
            .collect();
    }
    let decoded: Vec<_> = group
        .iter()
        .map(|(id, _)| logs.get(id).map(decode).unwrap_or(Ok(Vec::new())))
        .collect();
    let scw = scw_results(ctx.api.as_ref(), &decoded.iter().collect::<Vec<_>>())
        .await
        .map_err(|e| (e, all_items()))?;
    // CPU part (replay, Ed25519) off the async workers.
    let (mut out, grown) = tokio::task::spawn_blocking(move || {
        let mut out = ChunkOut {
            changes: Vec::new(),
            stats: RoundStats::default(),
            grown: Vec::new(),
        };
        let mut grown = Vec::new();
        for (((inbox_id, items), cached), decoded) in group.into_iter().zip(cached).zip(decoded) {
            let empty = InboxLog {
                inbox_id: inbox_id.clone(),
                entries: Vec::new(),
            };
            let log = logs.get(&inbox_id).unwrap_or(&empty);
            // Only a log that grew past a known state can flip links judged earlier; a
            // first sight of an inbox has no earlier verdicts against a state to revisit.
            let known = cached.is_some();
            let Advanced {
                outcome,
                store,
                grew,
            } = advance(cached, log, decoded, &scw);
            let judged: HashSet<Did> = items.iter().map(|i| i.did.clone()).collect();
            for item in &items {
                let v = evaluate(&item.did, &item.inbox_id, &item.signature, &outcome);
                record_verdict(&v, item, &mut out);
            }
            if let Some(state) = store {
                out.changes.push(Change::InboxState {
                    inbox_id: inbox_id.clone(),
                    last_sequence_id: state.last_sequence_id(),
                    state: state.to_bytes(),
                });
            }
            if grew && known {
                grown.push((inbox_id, outcome, judged));
            }
        }
        (out, grown)
    })
    .await
    .map_err(|e| {
        (
            ApiError::Unavailable(format!("verifier task failed: {e}")),
            Vec::new(),
        )
    })?;
    // A grown log can flip the inbox's other links (revocation, new installation).
    for (inbox_id, outcome, judged) in grown {
        out.grown.push(inbox_id.clone());
        // Every link of the inbox, whatever its status (no cap: this is the verifier's own
        // work, once per grown log, not a public query).
        let links = match ctx.reader.links_by_inbox(&inbox_id, true, usize::MAX).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, inbox_id, "listing links of a grown inbox failed");
                continue;
            }
        };
        for link in links.into_iter().filter(|l| !judged.contains(&l.did)) {
            if link.status == Status::Invalid && !rechecked_invalid(link.reason.as_deref()) {
                continue;
            }
            let item = Item::from_link(link);
            let v = evaluate(&item.did, &item.inbox_id, &item.signature, &outcome);
            record_verdict(&v, &item, &mut out);
            out.stats.rechecked_by_growth += 1;
        }
    }
    Ok(out)
}

/// The verifier: owns the retry backoff across rounds.
pub struct Verifier {
    cfg: VerifierConfig,
    ctx: Arc<Ctx>,
    writer: Writer,
    failures: u32,
    rechecks: Option<tokio::sync::mpsc::Receiver<String>>,
    cache_feed: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    tier: Tier,
}

impl Verifier {
    /// A verifier over the store and API.
    pub fn new(
        cfg: VerifierConfig,
        reader: Reader,
        writer: Writer,
        api: Arc<dyn IdentityApi>,
    ) -> Self {
        Self {
            tier: Tier::new(cfg.tier),
            cfg,
            ctx: Arc::new(Ctx { reader, api }),
            writer,
            failures: 0,
            rechecks: None,
            cache_feed: None,
        }
    }

    /// Sends the id of every inbox whose state is written to the cache (the d14n watcher
    /// subscribes to the new ones).
    pub fn with_cache_feed(mut self, tx: tokio::sync::mpsc::UnboundedSender<String>) -> Self {
        self.cache_feed = Some(tx);
        self
    }

    /// Inboxes to re-check now (from [`crate::watch`]); served before every round.
    pub fn with_rechecks(mut self, rx: tokio::sync::mpsc::Receiver<String>) -> Self {
        self.rechecks = Some(rx);
        self
    }

    /// Takes the queued re-check requests (deduplicated, at most `max`).
    fn queued_rechecks(&mut self, max: usize) -> Vec<String> {
        let mut ids = std::collections::BTreeSet::new();
        if let Some(rx) = self.rechecks.as_mut() {
            while ids.len() < max {
                match rx.try_recv() {
                    Ok(id) => {
                        ids.insert(id);
                    }
                    Err(_) => break,
                }
            }
        }
        ids.into_iter().collect()
    }

    async fn serve_rechecks(&mut self) {
        loop {
            let ids = self.queued_rechecks(self.cfg.batch_size.max(1));
            if ids.is_empty() {
                return;
            }
            let n = ids.len();
            match self.recheck_inboxes(ids, unix_now()).await {
                Ok(s) => tracing::debug!(
                    inboxes = n,
                    links = s.links,
                    invalid = s.invalid,
                    "pushed re-check done"
                ),
                Err(e) => tracing::warn!(error = %e, "pushed re-check failed on the store"),
            }
        }
    }

    fn retry_delay(&self) -> Duration {
        Policy::new(self.cfg.retry_base, self.cfg.retry_max)
            .with_jitter(Jitter::Quarter)
            .delay(self.failures)
    }

    /// One round at time `now` (unix seconds): pending links, active links due (within the
    /// tier's budget), then verified links older than `reverify_after`. Returns what it did;
    /// `links == 0` means idle.
    pub async fn round(&mut self, now: i64) -> Result<RoundStats, store::StoreError> {
        let reverify_before = now.saturating_sub(self.cfg.reverify_after.as_secs() as i64);
        let regular = self
            .ctx
            .reader
            .links_to_check(now, reverify_before, self.cfg.batch_size)
            .await?;
        let (items, active) = self
            .tier
            .round_items(&self.ctx.reader, regular, now, self.cfg.batch_size)
            .await?;
        let items: Vec<Item> = items.into_iter().map(Item::from_check).collect();
        self.judge(items, now, &active).await
    }

    /// Re-checks every link of these inboxes now (a pushed identity update): their logs
    /// are fetched from the cached positions and each link judged against the new state.
    /// Links invalid for a final reason are left alone, as on log growth.
    pub async fn recheck_inboxes(
        &mut self,
        inbox_ids: Vec<String>,
        now: i64,
    ) -> Result<RoundStats, store::StoreError> {
        let links = self
            .ctx
            .reader
            .links_by_inboxes(inbox_ids, true, usize::MAX)
            .await?;
        let items: Vec<Item> = links
            .into_iter()
            .flat_map(|(_, l)| l)
            .filter(|l| l.status != Status::Invalid || rechecked_invalid(l.reason.as_deref()))
            .map(Item::from_link)
            .collect();
        metrics::counter!("verifier_pushed_rechecks_total").increment(items.len() as u64);
        // A push is inbox activity: these links keep (or join) the active tier as links
        // re-checked by it do, even when a round fetched the pushed update first.
        let pushed: HashSet<Did> = items.iter().map(|i| i.did.clone()).collect();
        self.judge(items, now, &pushed).await
    }

    /// Judges `items` (grouped by inbox, chunked, in parallel) and writes the verdicts;
    /// `active` names the items taken by the active re-check tier.
    async fn judge(
        &mut self,
        items: Vec<Item>,
        now: i64,
        active: &HashSet<Did>,
    ) -> Result<RoundStats, store::StoreError> {
        let mut stats = RoundStats {
            links: items.len(),
            ..RoundStats::default()
        };
        if items.is_empty() {
            return Ok(stats);
        }
        let mut by_inbox: HashMap<String, Vec<Item>> = HashMap::new();
        for item in items {
            by_inbox
                .entry(item.inbox_id.clone())
                .or_default()
                .push(item);
        }
        let mut groups: Vec<(String, Vec<Item>)> = by_inbox.into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let per = self
            .cfg
            .inboxes_per_request
            .clamp(1, xmtp::client::MAX_INBOXES_PER_REQUEST);
        let mut chunks: Vec<Vec<(String, Vec<Item>)>> = Vec::new();
        for g in groups {
            match chunks.last_mut() {
                Some(c) if c.len() < per => c.push(g),
                _ => chunks.push(vec![g]),
            }
        }
        let mut changes = Vec::new();
        let mut grown = HashSet::new();
        let mut failed: Vec<Item> = Vec::new();
        let mut last_error = None;
        let mut set = tokio::task::JoinSet::new();
        let mut chunks = chunks.into_iter();
        loop {
            while set.len() < self.cfg.concurrency.max(1) {
                let Some(chunk) = chunks.next() else { break };
                set.spawn(process_chunk(self.ctx.clone(), chunk));
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            match joined {
                Ok(Ok(out)) => {
                    changes.extend(out.changes);
                    grown.extend(out.grown);
                    stats.verified += out.stats.verified;
                    stats.invalid += out.stats.invalid;
                    stats.deferred += out.stats.deferred;
                    stats.rechecked_by_growth += out.stats.rechecked_by_growth;
                }
                Ok(Err((e, items))) => {
                    failed.extend(items);
                    last_error = Some(e);
                }
                Err(e) => tracing::error!(error = %e, "verifier chunk task panicked"),
            }
        }
        if let Some(e) = &last_error {
            let delay = self.retry_delay();
            self.failures = self.failures.saturating_add(1);
            let not_before = now + delay.as_secs().max(1) as i64;
            tracing::warn!(error = %e, links = failed.len(), ?delay, "XMTP API fault; links stay as they are and are retried later");
            metrics::counter!("verifier_retries_total", "error" => e.label())
                .increment(failed.len() as u64);
            stats.retried = failed.len();
            for i in failed {
                // A pending link says why it is still pending; a verified (or invalid) one
                // keeps its status: a fault is never evidence either way.
                if i.status == Status::Pending {
                    changes.push(
                        Verdict::not_verified(Reason::XmtpUnavailable)
                            .to_change(&i.did, &i.record_cid),
                    );
                }
                changes.push(Change::RetryLater {
                    did: i.did,
                    record_cid: i.record_cid,
                    not_before,
                });
            }
        } else {
            self.failures = 0;
        }
        // Left pending because the log could not be evaluated: a node that could not run a
        // smart-contract-wallet check is retried like a fault; an update this verifier
        // cannot decode only after `retry_max` (it takes a new release to read it).
        let retry_soon = now + self.retry_delay().as_secs().max(1) as i64;
        let retry_late = now + self.cfg.retry_max.as_secs().max(1) as i64;
        let deferred: Vec<Change> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Verdict {
                    did,
                    record_cid,
                    status: Status::Pending,
                    reason: Some(reason),
                    ..
                } if reason != Reason::XmtpUnavailable.code() => Some(Change::RetryLater {
                    did: did.clone(),
                    record_cid: record_cid.clone(),
                    not_before: if reason == ReasonCode::IdentityUpdateUnsupported.as_str() {
                        retry_late
                    } else {
                        retry_soon
                    },
                }),
                _ => None,
            })
            .collect();
        changes.extend(deferred);
        // An inbox that had no updates yet, or whose log did not replay, may become usable:
        // such links are offered again after --reverify-after, like verified ones.
        let recheck_at = now.saturating_add(self.cfg.reverify_after.as_secs() as i64);
        let rechecks: Vec<Change> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Verdict {
                    did,
                    record_cid,
                    reason: Some(reason),
                    ..
                } if is_rechecked(reason) => Some(Change::RetryLater {
                    did: did.clone(),
                    record_cid: record_cid.clone(),
                    not_before: recheck_at,
                }),
                _ => None,
            })
            .collect();
        changes.extend(rechecks);
        // Verified links of recently active accounts: next re-check in the active tier.
        // A failed read only leaves them in the daily tier: the verdicts are written anyway.
        let scheduled = self
            .tier
            .schedule(&self.ctx.reader, &changes, now, active, &grown)
            .await;
        match scheduled {
            Ok(scheduled) => changes.extend(scheduled),
            Err(e) => tracing::warn!(error = %e, "reading link activity failed; not scheduled"),
        }
        let cached: Vec<String> = match &self.cache_feed {
            Some(_) => changes
                .iter()
                .filter_map(|c| match c {
                    Change::InboxState { inbox_id, .. } => Some(inbox_id.clone()),
                    _ => None,
                })
                .collect(),
            None => Vec::new(),
        };
        self.writer.apply(Batch::of(changes)).await?;
        if let Some(tx) = &self.cache_feed {
            for id in cached {
                let _ = tx.send(id);
            }
        }
        metrics::counter!("verifier_rounds_total").increment(1);
        Ok(stats)
    }

    /// Rounds until `shutdown` resolves.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        loop {
            self.serve_rechecks().await;
            let pause = match self.round(unix_now()).await {
                Ok(s) if s.retried > 0 => Some(self.retry_delay().min(Duration::from_secs(60))),
                Ok(s) if s.links == 0 => Some(self.cfg.idle_interval),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "verifier round failed on the store");
                    Some(self.cfg.idle_interval)
                }
            };
            if let Some(pause) = pause {
                let mut rechecks = self.rechecks.take();
                let pushed = async {
                    match rechecks.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                };
                let got = tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(pause) => None,
                    id = pushed => Some(id),
                };
                // A closed channel (the watcher stopped) is dropped, not polled again.
                self.rechecks = rechecks.filter(|_| got != Some(None));
                if let Some(Some(id)) = got {
                    let mut ids = self.queued_rechecks(self.cfg.batch_size.max(1));
                    ids.push(id);
                    ids.sort();
                    ids.dedup();
                    if let Err(e) = self.recheck_inboxes(ids, unix_now()).await {
                        tracing::warn!(error = %e, "pushed re-check failed on the store");
                    }
                }
            } else if futures_ready(&mut shutdown).await {
                return;
            }
        }
    }
}

/// Whether the shutdown future has already completed (without waiting).
async fn futures_ready<F: Future<Output = ()>>(f: &mut std::pin::Pin<&mut F>) -> bool {
    tokio::select! {
        biased;
        _ = f => true,
        _ = std::future::ready(()) => false,
    }
}

/// Runs the verifier pool until `shutdown` resolves.
pub async fn run(
    cfg: VerifierConfig,
    reader: Reader,
    writer: Writer,
    api: Arc<dyn IdentityApi>,
    shutdown: impl Future<Output = ()> + Send,
) {
    Verifier::new(cfg, reader, writer, api).run(shutdown).await;
}

/// Describes the verifier's metrics (call once at startup, after installing a recorder).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "verifier_verdicts_total",
        "Link verdicts written, by status and reason"
    );
    metrics::describe_counter!(
        "verifier_retries_total",
        "Links put back for later after an XMTP API fault, by error kind"
    );
    metrics::describe_counter!("verifier_rounds_total", "Verifier rounds completed");
    metrics::describe_counter!(
        "verifier_active_rechecks_total",
        "Inboxes taken into a round by the active re-check tier"
    );
    metrics::describe_counter!(
        "verifier_active_budget_waits_total",
        "Rounds in which the active tier's budget was spent"
    );
    metrics::describe_counter!(
        "verifier_unevaluable_total",
        "Inbox logs that could not be evaluated (links left pending), by replay error kind"
    );
    xmtp::client::describe_metrics();
}
