//! `org.xmtp.identity.resolveActor` and `resolveActors`: DID or verified handle -> link.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use store::LinkView;
use syntax::AtIdentifier;

use super::{MAX_BATCH, visible};
use crate::error::XrpcError;
use crate::params::Params;
use crate::state::AppState;

fn parse_actor(raw: &str) -> Result<AtIdentifier, XrpcError> {
    AtIdentifier::parse(raw).map_err(|e| XrpcError::InvalidRequest(format!("actor {raw:?}: {e}")))
}

/// `resolveActor`: the link of one actor.
pub(crate) async fn resolve_actor(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<LinkView>, XrpcError> {
    let p = Params::parse(query.as_deref())?;
    let actor = parse_actor(p.required("actor")?)?;
    let include = p.boolean("includeUnverified", false)?;
    let reader = &state.reader;
    let (did, via_handle) = match actor {
        AtIdentifier::Did(did) => (did.into_string(), false),
        AtIdentifier::Handle(handle) => {
            let did = reader
                .did_by_handle(handle.as_str())
                .await?
                .ok_or_else(|| {
                    XrpcError::ActorNotFound(format!("no verified handle {handle} in this index"))
                })?;
            (did, true)
        }
    };
    match reader.link_by_did(&did).await? {
        Some(link) if visible(&link, include) => Ok(Json(link)),
        Some(link) => Err(XrpcError::LinkNotFound(format!(
            "the link of {did} is {}; pass includeUnverified=true to see it",
            link.status
        ))),
        None if via_handle || reader.actor_known(&did).await? => Err(XrpcError::LinkNotFound(
            format!("{did} has no org.xmtp.inbox record in this index"),
        )),
        None => Err(XrpcError::ActorNotFound(format!(
            "{did} is not known to this index"
        ))),
    }
}

/// The output of `resolveActors`.
#[derive(Serialize)]
pub(crate) struct LinksOutput {
    links: Vec<LinkView>,
}

/// `resolveActors`: the links of up to 100 actors, unknown ones left out, input order kept.
pub(crate) async fn resolve_actors(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<LinksOutput>, XrpcError> {
    let p = Params::parse(query.as_deref())?;
    let actors = p
        .array("actors", MAX_BATCH)?
        .into_iter()
        .map(parse_actor)
        .collect::<Result<Vec<_>, _>>()?;
    let include = p.boolean("includeUnverified", false)?;
    let handles: Vec<String> = actors
        .iter()
        .filter_map(|a| match a {
            AtIdentifier::Handle(h) => Some(h.as_str().to_owned()),
            AtIdentifier::Did(_) => None,
        })
        .collect();
    let mut resolved = if handles.is_empty() {
        Vec::new()
    } else {
        state.reader.dids_by_handles(handles).await?
    }
    .into_iter();
    let mut dids = Vec::with_capacity(actors.len());
    for actor in actors {
        match actor {
            AtIdentifier::Did(did) => dids.push(did.into_string()),
            AtIdentifier::Handle(_) => {
                if let Some(Some(did)) = resolved.next() {
                    dids.push(did);
                }
            }
        }
    }
    let mut links = state.reader.links_by_dids(dids).await?;
    links.retain(|l| visible(l, include));
    Ok(Json(LinksOutput { links }))
}
