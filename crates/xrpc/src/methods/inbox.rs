//! `org.xmtp.identity.resolveInbox` and `resolveInboxes`: XMTP inbox -> linked DIDs.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use store::LinkView;
use syntax::InboxId;

use super::{MAX_BATCH, MAX_LINKS_PER_INBOX};
use crate::error::XrpcError;
use crate::params::Params;
use crate::state::AppState;

fn parse_inbox(raw: &str) -> Result<InboxId, XrpcError> {
    InboxId::parse(raw).map_err(|e| XrpcError::InvalidRequest(format!("inboxId {raw:?}: {e}")))
}

/// One inbox and its links.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InboxOutput {
    inbox_id: String,
    links: Vec<LinkView>,
}

/// `resolveInbox`: the links naming one inbox (at most [`MAX_LINKS_PER_INBOX`]).
pub(crate) async fn resolve_inbox(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<InboxOutput>, XrpcError> {
    let p = Params::parse(query.as_deref())?;
    let inbox_id = parse_inbox(p.required("inboxId")?)?;
    let include = p.boolean("includeUnverified", false)?;
    let links = state
        .reader
        .links_by_inbox(inbox_id.as_str(), include, MAX_LINKS_PER_INBOX)
        .await?;
    if links.is_empty() {
        return Err(XrpcError::InboxNotFound(format!(
            "no {}link names inbox {inbox_id}",
            if include { "" } else { "verified " }
        )));
    }
    Ok(Json(InboxOutput {
        inbox_id: inbox_id.into_string(),
        links,
    }))
}

/// The output of `resolveInboxes`.
#[derive(Serialize)]
pub(crate) struct InboxesOutput {
    inboxes: Vec<InboxOutput>,
}

/// `resolveInboxes`: up to 100 inboxes; inboxes without (matching) links are left out.
pub(crate) async fn resolve_inboxes(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<InboxesOutput>, XrpcError> {
    let p = Params::parse(query.as_deref())?;
    let ids = p
        .array("inboxIds", MAX_BATCH)?
        .into_iter()
        .map(|raw| parse_inbox(raw).map(InboxId::into_string))
        .collect::<Result<Vec<_>, _>>()?;
    let include = p.boolean("includeUnverified", false)?;
    let inboxes = state
        .reader
        .links_by_inboxes(ids, include, MAX_LINKS_PER_INBOX)
        .await?
        .into_iter()
        .filter_map(|(inbox_id, links)| {
            (!links.is_empty()).then_some(InboxOutput { inbox_id, links })
        })
        .collect();
    Ok(Json(InboxesOutput { inboxes }))
}
