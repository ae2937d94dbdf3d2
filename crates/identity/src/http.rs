//! HTTP plumbing: bounded body reads and the mapping of transport errors and status codes to
//! [`IdentityError`] (network faults stay distinct from "not found").

use reqwest::{Client, StatusCode, Url};

use crate::error::IdentityError;
use crate::ssrf::{check_url, is_refusal};

/// Largest DID document / well-known body we read.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// A fetched response: status and (bounded) body.
pub(crate) struct Fetched {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

fn map_err(e: reqwest::Error) -> IdentityError {
    if is_refusal(&e) {
        IdentityError::Forbidden(e.to_string())
    } else {
        IdentityError::Network(e.to_string())
    }
}

/// GETs `url`, reading at most `max` bytes of body (more is an invalid response).
pub(crate) async fn get(
    client: &Client,
    url: Url,
    host_header: Option<&str>,
    guarded: bool,
    allow_private: bool,
    max: usize,
) -> Result<Fetched, IdentityError> {
    if guarded {
        check_url(&url, allow_private).map_err(IdentityError::Forbidden)?;
    }
    let mut req = client.get(url);
    if let Some(h) = host_header {
        req = req.header(reqwest::header::HOST, h);
    }
    let mut resp = req.send().await.map_err(map_err)?;
    let status = resp.status();
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(IdentityError::InvalidDocument(format!(
            "response larger than {max} bytes"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(map_err)? {
        if body.len() + chunk.len() > max {
            return Err(IdentityError::InvalidDocument(format!(
                "response larger than {max} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { status, body })
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
