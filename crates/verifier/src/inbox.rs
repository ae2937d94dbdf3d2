//! Advancing one inbox: cached state + new log entries → new state (incremental replay,
//! smart-contract-wallet checks through the API), with the whole-log failure rule.

use crate::verdict::InboxOutcome;
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

/// Applies new entries to the cached state (CPU only).
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
        }) => {
            // Whole-log failure is final: the log is append-only.
            let store = last.map(|l| CachedInbox::Invalid {
                last_sequence_id: l,
                reason: reason.clone(),
            });
            return Advanced {
                outcome: InboxOutcome::Invalid(reason),
                store,
                grew: grew && last > Some(last_sequence_id),
            };
        }
        Some(CachedInbox::Valid { state, .. }) => Some(state),
        None => None,
    };
    let Some(last) = last else {
        return match prev {
            Some(state) => Advanced {
                outcome: InboxOutcome::from_state(&state),
                store: None,
                grew: false,
            },
            None => Advanced {
                outcome: InboxOutcome::NotFound,
                store: None,
                grew: false,
            },
        };
    };
    let replayed = decoded.and_then(|updates| xmtp::replay::replay(prev, &updates, scw));
    match replayed {
        Ok(state) => Advanced {
            outcome: InboxOutcome::from_state(&state),
            store: Some(CachedInbox::Valid {
                last_sequence_id: last,
                state,
            }),
            grew,
        },
        Err(e) => {
            let reason = e.to_string();
            Advanced {
                outcome: InboxOutcome::Invalid(reason.clone()),
                store: Some(CachedInbox::Invalid {
                    last_sequence_id: last,
                    reason,
                }),
                grew,
            }
        }
    }
}
