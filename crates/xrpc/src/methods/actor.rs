//! `org.xmtp.identity.resolveActor` and `resolveActors`: DID or verified handle -> link.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use store::{DidKeys, Status};
use syntax::{AtIdentifier, AtIdentifierRef};

use super::MAX_BATCH;
use crate::error::XrpcError;
use crate::params::Params;
use crate::state::AppState;

fn parse_actor(raw: &str) -> Result<AtIdentifier, XrpcError> {
    AtIdentifier::parse(raw).map_err(|e| XrpcError::InvalidRequest(format!("actor {raw:?}: {e}")))
}

/// A JSON body already serialised by the store.
fn json_body(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// `resolveActor`: the link of one actor.
pub(crate) async fn resolve_actor(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, XrpcError> {
    let p = Params::parse(query.as_deref())?;
    let actor = parse_actor(p.required("actor")?)?;
    let include = p.boolean("includeUnverified", false)?;
    let reader = &state.reader;
    let (did, via_handle) = match actor {
        AtIdentifier::Did(did) => (did, false),
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
    match reader.link_json_by_did(&did).await? {
        Some((status, body)) if include || status == Status::Verified => Ok(json_body(body)),
        Some((status, _)) => Err(XrpcError::LinkNotFound(format!(
            "the link of {did} is {status}; pass includeUnverified=true to see it"
        ))),
        None if via_handle || reader.actor_known(&did).await? => Err(XrpcError::LinkNotFound(
            format!("{did} has no org.xmtp.inbox record in this index"),
        )),
        None => Err(XrpcError::ActorNotFound(format!(
            "{did} is not known to this index"
        ))),
    }
}

/// `resolveActors`: the links of up to 100 actors, unknown ones left out, input order kept.
/// DIDs are checked and keyed straight from the query string (no `String` per DID).
pub(crate) async fn resolve_actors(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, XrpcError> {
    let p = Params::parse(query.as_deref())?;
    let actors = p
        .array("actors", MAX_BATCH)?
        .into_iter()
        .map(|raw| {
            AtIdentifierRef::parse(raw)
                .map_err(|e| XrpcError::InvalidRequest(format!("actor {raw:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let include = p.boolean("includeUnverified", false)?;
    let handles: Vec<String> = actors
        .iter()
        .filter_map(|a| match a {
            AtIdentifierRef::Handle(h) => Some(h.as_str().to_owned()),
            AtIdentifierRef::Did(_) => None,
        })
        .collect();
    let mut resolved = if handles.is_empty() {
        Vec::new()
    } else {
        state.reader.dids_by_handles(handles).await?
    }
    .into_iter();
    let mut dids = DidKeys::with_capacity(actors.len());
    for actor in &actors {
        match actor {
            AtIdentifierRef::Did(did) => dids.push(did),
            AtIdentifierRef::Handle(_) => {
                if let Some(Some(did)) = resolved.next() {
                    dids.push(&did);
                }
            }
        }
    }
    let body = state.reader.links_json_by_did_keys(dids, include).await?;
    Ok(json_body(body))
}
