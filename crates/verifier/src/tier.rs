//! Re-check tiers for a network that cannot push (v3): verified links of recently active
//! accounts are re-checked every `reverify_active_after`, dormant ones every
//! `reverify_after`, and the active tier spends at most `active_budget_per_minute` inboxes
//! of the XMTP read rate.
//!
//! The tier is decided whenever a link is judged `verified`. The link is *active* when
//! - its record is recent: indexed within `active_window`, capped by its `createdAt`
//!   ([`store::LinkActivity::record_ms`]; a backfilled old record is not recent), or
//! - its inbox's log grew past the cached state in this very check (a new installation, a
//!   revocation, any identity update), or
//! - it was re-checked by the active tier (or for a pushed update) and its inbox's cached
//!   state was written within the window ([`store::LinkActivity::log_ms`]): this keeps a
//!   link whose inbox grew active for the whole window. (The first fetch of a log writes that state too, which is why it
//!   counts only for links already in the tier: a first sight is not growth.)
//!
//! An active link gets its next re-check time in `not_before` (migration 0011); a dormant
//! one keeps `not_before = 0` and is re-checked by age as before. A link therefore changes
//! tier at its next verdict: a dormant link whose inbox log grows is re-judged at once (log
//! growth re-checks every link of the inbox) and scheduled; an active link that went quiet
//! falls back to the daily re-check after its last active re-check.

use std::collections::{HashMap, HashSet};
use std::time::Duration;
use store::{Change, CheckItem, LinkActivity, Reader, Status, StoreError};
use syntax::{Cid, Did};

/// The active tier's settings (part of [`crate::VerifierConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierConfig {
    /// Re-check active verified links this often (`--reverify-active-after`); zero turns
    /// the tier off (every verified link is re-checked every `reverify_after`).
    pub reverify_active_after: Duration,
    /// A link is active this long after its last activity (`--active-window`).
    pub active_window: Duration,
    /// Inboxes the active tier may re-check per minute, and at most at once (the budget is
    /// a bucket of one minute). Each `GetIdentityUpdates` asks about ≤ 50 inboxes, and v3
    /// allows 4,000 reads a minute per IP: 100,000 is half of that.
    pub active_budget_per_minute: u64,
}

impl Default for TierConfig {
    fn default() -> Self {
        Self {
            reverify_active_after: Duration::from_secs(600),
            active_window: Duration::from_secs(7 * 24 * 3600),
            active_budget_per_minute: 100_000,
        }
    }
}

impl TierConfig {
    /// Whether the active tier is on.
    pub fn enabled(&self) -> bool {
        !self.reverify_active_after.is_zero() && self.active_budget_per_minute > 0
    }
}

/// A token bucket of inbox re-checks over the caller's clock (unix seconds), full at start.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    per_minute: f64,
    tokens: f64,
    last: Option<i64>,
}

impl Budget {
    pub(crate) fn new(per_minute: u64) -> Self {
        Self {
            per_minute: per_minute as f64,
            tokens: per_minute as f64,
            last: None,
        }
    }

    /// Whole tokens available at `now`.
    pub(crate) fn available(&mut self, now: i64) -> usize {
        if let Some(last) = self.last {
            let elapsed = now.saturating_sub(last).max(0) as f64;
            self.tokens = (self.tokens + elapsed * self.per_minute / 60.0).min(self.per_minute);
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        self.tokens.max(0.0).floor() as usize
    }

    /// Spends `n` tokens (call after [`Budget::available`] at the same `now`).
    pub(crate) fn spend(&mut self, n: usize) {
        self.tokens -= n as f64;
    }
}

/// The active tier's state in the pool.
#[derive(Debug)]
pub(crate) struct Tier {
    cfg: TierConfig,
    budget: Budget,
}

impl Tier {
    pub(crate) fn new(cfg: TierConfig) -> Self {
        Self {
            cfg,
            budget: Budget::new(cfg.active_budget_per_minute),
        }
    }

    /// Merges a round's work: the pending links of `regular` first (new records wait for
    /// nothing), then the active links due at `now` (within the budget), then the rest of
    /// `regular` (dormant re-checks), each link once, at most `batch` links. Also returns
    /// the DIDs taken by the active tier.
    pub(crate) async fn round_items(
        &mut self,
        reader: &Reader,
        regular: Vec<CheckItem>,
        now: i64,
        batch: usize,
    ) -> Result<(Vec<CheckItem>, HashSet<Did>), StoreError> {
        let (pending, rest): (Vec<_>, Vec<_>) = regular
            .into_iter()
            .partition(|i| i.status == Status::Pending);
        let room = batch.saturating_sub(pending.len());
        let active = if self.cfg.enabled() && room > 0 {
            let limit = room.min(self.budget.available(now));
            if limit > 0 {
                reader.active_links_due(now, limit).await?
            } else {
                metrics::counter!("verifier_active_budget_waits_total").increment(1);
                Vec::new()
            }
        } else {
            Vec::new()
        };
        let mut seen: HashSet<Did> = pending.iter().map(|i| i.did.clone()).collect();
        let mut inboxes = HashSet::new();
        let mut taken = HashSet::new();
        let mut out = pending;
        for item in active {
            if seen.insert(item.did.clone()) {
                inboxes.insert(item.inbox_id.clone());
                taken.insert(item.did.clone());
                out.push(item);
            }
        }
        self.budget.spend(inboxes.len());
        metrics::counter!("verifier_active_rechecks_total").increment(inboxes.len() as u64);
        for item in rest {
            if out.len() >= batch {
                break;
            }
            if seen.insert(item.did.clone()) {
                out.push(item);
            }
        }
        Ok((out, taken))
    }

    /// The schedule changes for a batch of verdicts judged at `now`: every link judged
    /// `verified` that is active (module docs; `taken`: the DIDs the active tier took,
    /// `grown`: the inboxes whose log grew past the cached state) gets its next re-check at
    /// `now + reverify_active_after`.
    pub(crate) async fn schedule(
        &self,
        reader: &Reader,
        changes: &[Change],
        now: i64,
        taken: &HashSet<Did>,
        grown: &HashSet<String>,
    ) -> Result<Vec<Change>, StoreError> {
        if !self.cfg.enabled() {
            return Ok(Vec::new());
        }
        let verified: Vec<(&Did, &Cid)> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Verdict {
                    did,
                    record_cid,
                    status: Status::Verified,
                    ..
                } => Some((did, record_cid)),
                _ => None,
            })
            .collect();
        if verified.is_empty() {
            return Ok(Vec::new());
        }
        let activity: HashMap<Did, LinkActivity> = reader
            .last_activity(verified.iter().map(|(d, _)| (*d).clone()).collect())
            .await?;
        let since_ms = now
            .saturating_sub(self.cfg.active_window.as_secs() as i64)
            .saturating_mul(1000);
        let next = now.saturating_add(self.cfg.reverify_active_after.as_secs().max(1) as i64);
        Ok(verified
            .into_iter()
            .filter(|(did, _)| {
                activity.get(*did).is_some_and(|a| {
                    a.record_ms >= since_ms
                        || grown.contains(&a.inbox_id)
                        || (taken.contains(*did) && a.log_ms.is_some_and(|ms| ms >= since_ms))
                })
            })
            .map(|(did, record_cid)| Change::RetryLater {
                did: did.clone(),
                record_cid: record_cid.clone(),
                not_before: next,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refills_per_minute_up_to_one_minute() {
        let mut b = Budget::new(600);
        assert_eq!(b.available(1_000), 600);
        b.spend(600);
        assert_eq!(b.available(1_000), 0);
        assert_eq!(b.available(1_001), 10);
        assert_eq!(b.available(1_030), 300);
        assert_eq!(b.available(5_000), 600, "never more than a minute's worth");
        // A clock that goes back refills nothing.
        b.spend(600);
        assert_eq!(b.available(4_000), 0);
        assert_eq!(b.available(5_001), 10);
    }

    #[test]
    fn zero_turns_the_tier_off() {
        let on = TierConfig::default();
        assert!(on.enabled());
        let off = TierConfig {
            reverify_active_after: Duration::ZERO,
            ..on
        };
        assert!(!off.enabled());
    }
}
