//! HTTP plumbing: bounded body reads and the mapping of transport errors and status codes to
//! [`IdentityError`] (network faults stay distinct from "not found").

use netguard::NetError;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, Url};

use crate::error::IdentityError;

/// Largest DID document / well-known body we read.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// A fetched response: status and (bounded) body.
pub(crate) struct Fetched {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// GETs `url` from an operator-configured (trusted) service, reading at most `max` bytes of
/// body (more is an invalid response).
pub(crate) async fn get_trusted(
    client: &Client,
    url: Url,
    max: usize,
) -> Result<Fetched, IdentityError> {
    let net = |e: reqwest::Error| IdentityError::Network(e.to_string());
    let mut resp = client.get(url).send().await.map_err(net)?;
    let status = resp.status();
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(net)? {
        if body.len() + chunk.len() > max {
            return Err(too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { status, body })
}

/// GETs `url`, named by untrusted data, through the guarded client (addresses checked after
/// DNS, every redirect re-checked, body capped at `max`). `host_header` overrides `Host`.
pub(crate) async fn get_guarded(
    client: &netguard::GuardedClient,
    url: Url,
    host_header: Option<&str>,
    max: usize,
) -> Result<Fetched, IdentityError> {
    let mut headers = HeaderMap::new();
    if let Some(h) = host_header {
        let value = HeaderValue::from_str(h)
            .map_err(|e| IdentityError::InvalidHandle(format!("{h}: {e}")))?;
        headers.insert(reqwest::header::HOST, value);
    }
    let f = client
        .get_with_headers(url.as_str(), headers, max)
        .await
        .map_err(|e| match e {
            NetError::Forbidden(why) => IdentityError::Forbidden(why),
            NetError::TooLarge { limit } => too_large(limit),
            NetError::BadUrl(why) => IdentityError::BadDid(why),
            e @ NetError::TooManyRedirects(_) => IdentityError::InvalidDocument(e.to_string()),
            e @ (NetError::Timeout(_) | NetError::Network(_) | NetError::Status(_)) => {
                IdentityError::Network(e.to_string())
            }
        })?;
    Ok(Fetched {
        status: f.status,
        body: f.body,
    })
}

fn too_large(max: usize) -> IdentityError {
    IdentityError::InvalidDocument(format!("response larger than {max} bytes"))
}

/// Maps non-success statuses: 429 and 5xx are transient; 404 not found; 410 gone.
pub(crate) fn status_error(status: StatusCode, what: &str, body: &[u8]) -> IdentityError {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    match status.as_u16() {
        404 if text.contains("not available") => IdentityError::Tombstoned(what.to_owned()),
        410 => IdentityError::Tombstoned(what.to_owned()),
        404 => IdentityError::NotFound(what.to_owned()),
        408 | 425 | 429 | 500..=599 => IdentityError::Network(format!("HTTP {status} for {what}")),
        _ => IdentityError::NotFound(format!("HTTP {status} for {what}: {text}")),
    }
}
