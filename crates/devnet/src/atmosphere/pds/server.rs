//! The PDS's XRPC routes: `com.atproto.sync.*` (CARs and repo status),
//! `com.atproto.repo.getRecord` (JSON) and `com.atproto.identity.resolveHandle`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::{Account, PdsShared, lock};
use crate::atmosphere::http::{
    XrpcError, fault_layer, health, limit_param, not_supported, param, repo_status_json, repos_page,
};

type Params = Query<HashMap<String, String>>;
type Shared = State<Arc<PdsShared>>;

pub(super) fn router(shared: Arc<PdsShared>) -> Router {
    let faults = shared.faults.clone();
    Router::new()
        .route("/xrpc/com.atproto.sync.getRecord", get(sync_get_record))
        .route("/xrpc/com.atproto.sync.getRepo", get(sync_get_repo))
        .route(
            "/xrpc/com.atproto.sync.getLatestCommit",
            get(get_latest_commit),
        )
        .route("/xrpc/com.atproto.sync.getRepoStatus", get(get_repo_status))
        .route("/xrpc/com.atproto.sync.listRepos", get(list_repos))
        .route("/xrpc/com.atproto.repo.getRecord", get(repo_get_record))
        .route(
            "/xrpc/com.atproto.identity.resolveHandle",
            get(resolve_handle),
        )
        .route("/xrpc/_health", get(health))
        .route("/.well-known/atproto-did", get(well_known_did))
        .fallback(not_supported)
        .layer(middleware::from_fn_with_state(faults, fault_layer))
        .with_state(shared)
}

fn repo_not_found(did: &str) -> XrpcError {
    XrpcError::lexicon(
        "RepoNotFound",
        format!("could not find repo for DID: {did}"),
    )
}

/// The lexicon error for reading an inactive account.
fn inactive_error(account: &Account) -> Option<XrpcError> {
    if account.active {
        return None;
    }
    let (name, text) = match account.status.as_deref() {
        Some("takendown") => ("RepoTakendown", "repo has been taken down"),
        Some("suspended") => ("RepoSuspended", "repo is suspended"),
        _ => ("RepoDeactivated", "repo has been deactivated"),
    };
    Some(XrpcError::lexicon(name, format!("{text}: {}", account.did)))
}

/// Runs `read` on the account `did` if it exists and is active (under its lock), else
/// answers the lexicon error a reference PDS gives.
fn read_active<T>(
    shared: &PdsShared,
    did: &str,
    read: impl FnOnce(&mut Account) -> Result<T, XrpcError>,
) -> Result<T, XrpcError> {
    let account = shared.account(did).ok_or_else(|| repo_not_found(did))?;
    let mut account = lock(&account);
    if let Some(error) = inactive_error(&account) {
        return Err(error);
    }
    read(&mut account)
}

fn car_response(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/vnd.ipld.car")], bytes).into_response()
}

async fn sync_get_record(
    State(shared): Shared,
    Query(params): Params,
) -> Result<Response, XrpcError> {
    let did = param(&params, "did")?;
    let collection = param(&params, "collection")?;
    let rkey = param(&params, "rkey")?;
    let path = format!("{collection}/{rkey}");
    read_active(&shared, did, |account| {
        if shared.config.absent_record_is_error && account.repo.record(&path).is_none() {
            return Err(XrpcError::lexicon(
                "RecordNotFound",
                format!("record not found: {path}"),
            ));
        }
        let car = account
            .repo
            .record_proof(&path)
            .ok_or_else(|| repo_not_found(did))?;
        Ok(car_response(car))
    })
}

async fn sync_get_repo(
    State(shared): Shared,
    Query(params): Params,
) -> Result<Response, XrpcError> {
    let did = param(&params, "did")?;
    read_active(&shared, did, |account| {
        let car = account.repo.full_car().ok_or_else(|| repo_not_found(did))?;
        Ok(car_response(car))
    })
}

async fn get_latest_commit(
    State(shared): Shared,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    let did = param(&params, "did")?;
    read_active(&shared, did, |account| {
        let head = account.repo.head().ok_or_else(|| repo_not_found(did))?;
        Ok(Json(
            json!({ "cid": head.cid.to_string(), "rev": head.rev }),
        ))
    })
}

fn status_json(account: &Account) -> serde_json::Value {
    repo_status_json(
        &account.did,
        account.active,
        account.status.as_deref(),
        account.repo.head().map(|head| head.rev.as_str()),
    )
}

async fn get_repo_status(
    State(shared): Shared,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    let did = param(&params, "did")?;
    let account = shared.account(did).ok_or_else(|| repo_not_found(did))?;
    let account = lock(&account);
    Ok(Json(status_json(&account)))
}

async fn list_repos(
    State(shared): Shared,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    let limit = limit_param(&params, 1000)?;
    let mut page = shared.dids_after(params.get("cursor").map(String::as_str), limit + 1);
    let more = page.len() > limit;
    page.truncate(limit);
    let repos = page
        .iter()
        .filter_map(|(_, account)| {
            let account = lock(account);
            let head = account.repo.head()?;
            let mut entry = status_json(&account);
            entry["head"] = json!(head.cid.to_string());
            Some(entry)
        })
        .collect();
    let cursor = page.last().filter(|_| more).map(|(did, _)| did.as_str());
    Ok(repos_page(repos, cursor))
}

async fn repo_get_record(
    State(shared): Shared,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    let repo = param(&params, "repo")?;
    let collection = param(&params, "collection")?;
    let rkey = param(&params, "rkey")?;
    let did = if repo.starts_with("did:") {
        repo.to_owned()
    } else {
        shared
            .did_for_handle(repo)
            .ok_or_else(|| XrpcError::invalid(format!("could not find repo: {repo}")))?
    };
    let path = format!("{collection}/{rkey}");
    read_active(&shared, &did, |account| {
        let record = account.repo.record(&path).ok_or_else(|| {
            XrpcError::lexicon(
                "RecordNotFound",
                format!("could not locate record: at://{did}/{path}"),
            )
        })?;
        if let Some(wanted) = params.get("cid")
            && *wanted != record.cid.to_string()
        {
            return Err(XrpcError::lexicon(
                "RecordNotFound",
                "record not found at that cid",
            ));
        }
        Ok(Json(json!({
            "uri": format!("at://{did}/{path}"),
            "cid": record.cid.to_string(),
            "value": record.value,
        })))
    })
}

async fn resolve_handle(
    State(shared): Shared,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, XrpcError> {
    let handle = param(&params, "handle")?;
    let did = shared
        .did_for_handle(handle)
        .ok_or_else(|| XrpcError::lexicon("HandleNotFound", "unable to resolve handle"))?;
    Ok(Json(json!({ "did": did })))
}

/// `GET /.well-known/atproto-did` for the handle named by the `Host` header (one host serves
/// every devnet handle; resolvers point their well-known base here and send `Host: <handle>`).
async fn well_known_did(State(shared): Shared, headers: axum::http::HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let handle = host.rsplit_once(':').map_or(host, |(name, _)| name);
    match shared.did_for_handle(handle) {
        Some(did) => ([(header::CONTENT_TYPE, "text/plain")], did).into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "no user by that handle").into_response(),
    }
}
