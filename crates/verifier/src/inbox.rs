//! Advancing one inbox: cached state + new log entries → new state (incremental replay,
//! smart-contract-wallet checks through the API), with the whole-log failure rule.
//!
//! Only a failure that is evidence is cached (and is then final). A failure that says the
//! log could not be evaluated leaves the cache as it was, so the same entries are fetched
//! and replayed again on the next attempt.

use crate::verdict::{InboxOutcome, Reason};
use xmtp::api::{ApiError, IdentityApi, InboxLog};
use xmtp::model::DecodedUpdate;
use xmtp::signature::ScwResults;
use xmtp::{CachedInbox, ReplayError};

/// The result of advancing one inbox.
#[derive(Debug, Clone)]
pub struct Advanced {
    /// What the links are checked against.
    pub outcome: InboxOutcome,
    /// The new cache entry, when it changed.
    pub store: Option<CachedInbox>,
    /// Whether the log had new entries.
    pub grew: bool,
}

/// Decoded new entries of a log, or the decode failure.
pub type Decoded = Result<Vec<DecodedUpdate>, ReplayError>;

/// Decodes the new entries (cheap; done before any smart-contract-wallet call).
pub fn decode(log: &InboxLog) -> Decoded {
    log.entries
        .iter()
        .map(|e| DecodedUpdate::from_bytes(&e.update).map_err(ReplayError::from))
        .collect()
}

/// Fetches the network's verdicts on the smart-contract-wallet signatures the entries need.
pub async fn scw_results(
    api: &dyn IdentityApi,
    decoded: &[&Decoded],
) -> Result<ScwResults, ApiError> {
    let requests: Vec<_> = decoded
        .iter()
        .filter_map(|d| d.as_ref().ok())
        .flat_map(|updates| xmtp::replay::scw_requests(updates))
        .collect();
    if requests.is_empty() {
        return Ok(ScwResults::new());
    }
    let verdicts = api
        .verify_smart_contract_wallet_signatures(&requests)
        .await?;
    Ok(requests.into_iter().zip(verdicts).collect())
}

/// A cached entry as the verifier may use it: an invalid entry whose failure is not known
/// to be evidence (cached before failures had kinds) is dropped, so the log is replayed
/// from 0.
pub fn usable(cached: CachedInbox) -> Option<CachedInbox> {
    match cached {
        CachedInbox::Invalid { .. } if !cached.is_final_invalid() => None,
        c => Some(c),
    }
}

/// The outcome of a replayed state for the inbox `requested`. A state of another inbox is
/// not cached under `requested` (the links get `inbox_id_mismatch` from
/// [`crate::evaluate`]).
fn of_state(requested: &str, last: u64, state: xmtp::InboxState, grew: bool) -> Advanced {
    let outcome = InboxOutcome::from_state(&state);
    let store = (state.inbox_id == requested).then_some(CachedInbox::Valid {
        last_sequence_id: last,
        state,
    });
    Advanced {
        outcome,
        store,
        grew,
    }
}

/// Applies new entries to the cached state (CPU only). A cached invalid entry is taken
/// as final: the pool drops entries that are not (see `usable`) before calling this.
pub fn advance(
    cached: Option<CachedInbox>,
    log: &InboxLog,
    decoded: Decoded,
    scw: &ScwResults,
) -> Advanced {
    let last = log.entries.last().map(|e| e.sequence_id);
    let grew = last.is_some();
    let prev = match cached {
        Some(CachedInbox::Invalid {
            reason,
            last_sequence_id,
            kind,
        }) => {
            // Whole-log failure is final: the log is append-only.
            let store = last.map(|l| CachedInbox::Invalid {
                last_sequence_id: l,
                reason: reason.clone(),
                kind,
            });
            return Advanced {
                outcome: InboxOutcome::Invalid(reason),
                store,
                grew: grew && last > Some(last_sequence_id),
            };
        }
        Some(CachedInbox::Valid {
            state,
            last_sequence_id,
        }) => Some((last_sequence_id, state)),
        None => None,
    };
    let Some(last) = last else {
        return match prev {
            Some((seq, state)) => {
                let mut a = of_state(&log.inbox_id, seq, state, false);
                a.store = None;
                a
            }
            None => Advanced {
                outcome: InboxOutcome::NotFound,
                store: None,
                grew: false,
            },
        };
    };
    let prev = prev.map(|(_, state)| state);
    match decoded.and_then(|updates| xmtp::replay::replay(prev, &updates, scw)) {
        Ok(state) => of_state(&log.inbox_id, last, state, grew),
        Err(e) if e.is_evidence() => {
            let reason = e.to_string();
            Advanced {
                outcome: InboxOutcome::Invalid(reason.clone()),
                store: Some(CachedInbox::Invalid {
                    last_sequence_id: last,
                    reason,
                    kind: Some(e.kind()),
                }),
                grew,
            }
        }
        Err(e) => {
            tracing::info!(inbox_id = %log.inbox_id, kind = e.kind().code(), error = %e,
                "inbox log could not be evaluated; its links stay pending and are retried");
            metrics::counter!("verifier_unevaluable_total", "kind" => e.kind().code()).increment(1);
            Advanced {
                outcome: InboxOutcome::Unevaluable(Reason::of_replay(&e)),
                store: None,
                grew,
            }
        }
    }
}
