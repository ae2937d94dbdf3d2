//! `org.xmtp.identity.listLinks`: every link of a status, in a stable order, paged.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use store::{LinkView, Status};

use crate::error::XrpcError;
use crate::params::Params;
use crate::state::AppState;

/// The output of `listLinks`; no `cursor` on the last page.
#[derive(Serialize)]
pub(crate) struct ListOutput {
    links: Vec<LinkView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// `listLinks`: `limit` 1..=1000 [100], `cursor`, `status` verified|pending|invalid|all.
pub(crate) async fn list_links(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ListOutput>, XrpcError> {
    let p = Params::parse(query.as_deref())?;
    let limit = p.integer("limit", 1, 1000, 100)?;
    let cursor = p.one("cursor")?.map(str::to_owned);
    let status = match p.one("status")?.unwrap_or("verified") {
        "all" => None,
        s => Some(s.parse::<Status>().map_err(|_| {
            XrpcError::InvalidRequest(format!(
                "parameter status must be verified, pending, invalid or all, not {s:?}"
            ))
        })?),
    };
    let limit = usize::try_from(limit).unwrap_or(100);
    let (links, cursor) = state.reader.list_links(status, cursor, limit).await?;
    Ok(Json(ListOutput { links, cursor }))
}
