//! The one-shot check used by the CLI `verify` command: no database, the whole log from 0,
//! exactly the reference loop of the SDK.

use crate::inbox::{advance, decode, scw_results};
use crate::verdict::{Reason, Verdict, evaluate, precheck};
use syntax::Did;
use xmtp::api::{ApiError, IdentityApi};

/// Verifies one link. `Err` only for transport faults (never evidence); a log that cannot
/// be evaluated gives a `pending` verdict with its reason.
pub async fn verify_link(
    api: &dyn IdentityApi,
    did: &Did,
    inbox_id: &str,
    verification_signature: &str,
) -> Result<Verdict, ApiError> {
    if let Err(reason) = precheck(inbox_id, verification_signature) {
        return Ok(Verdict::not_verified(reason));
    }
    let mut logs = api
        .get_identity_updates(&[(inbox_id.to_string(), 0)])
        .await?;
    let Some(log) = logs.pop() else {
        return Ok(Verdict::not_verified(Reason::InboxNotFound));
    };
    let decoded = decode(&log);
    let scw = scw_results(api, &[&decoded]).await?;
    let advanced = advance(None, &log, decoded, &scw);
    Ok(evaluate(
        did,
        inbox_id,
        verification_signature,
        &advanced.outcome,
    ))
}
