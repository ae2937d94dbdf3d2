//! `org.xmtp.identity.listLinks?status=all` pages from the upstream, read as untrusted JSON:
//! bounded body, each entry checked on its own (a bad one is counted and skipped, not the
//! page), only the DID and what tells whether our copy differs (record CID, status) kept.

use serde_json::Value;
use syntax::Did;

use crate::config::MirrorConfig;

/// One listed link, as far as the mirror cares: which DID, and whether our copy differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The DID (parsed).
    pub did: Did,
    /// The record CID the upstream claims.
    pub cid: Option<String>,
    /// The status the upstream claims.
    pub status: Option<String>,
}

/// One page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The well-formed entries.
    pub links: Vec<Listed>,
    /// Entries skipped as malformed.
    pub skipped: usize,
    /// The next page's cursor, `None` on the last page.
    pub cursor: Option<String>,
}

/// Why a page could not be had (always transient: the listing is tried again later).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ListError {
    /// Transport fault or timeout.
    #[error("request: {0}")]
    Request(String),
    /// The upstream answered with an error status.
    #[error("HTTP {0}")]
    Status(u16),
    /// The body is larger than allowed.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not the expected JSON.
    #[error("bad response: {0}")]
    Body(String),
}

const MAX_CURSOR: usize = 4096;
const MAX_SHORT: usize = 256;

fn short_str(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| s.len() <= MAX_SHORT)
        .map(str::to_owned)
}

/// Reads one entry of `links`.
pub fn parse_entry(v: &Value) -> Option<Listed> {
    let did = Did::parse(v.get("did")?.as_str()?).ok()?;
    Some(Listed {
        did,
        cid: v
            .get("record")
            .and_then(|r| r.get("cid"))
            .and_then(short_str),
        status: v.get("status").and_then(short_str),
    })
}

/// Reads a whole `listLinks` response body.
pub fn parse_page(body: &[u8]) -> Result<Page, ListError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ListError::Body(e.to_string()))?;
    let links = v
        .get("links")
        .and_then(Value::as_array)
        .ok_or_else(|| ListError::Body("no links array".into()))?;
    let mut page = Page::default();
    for entry in links {
        match parse_entry(entry) {
            Some(l) => page.links.push(l),
            None => page.skipped += 1,
        }
    }
    page.cursor = match v.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if !c.is_empty() && c.len() <= MAX_CURSOR => Some(c.clone()),
        Some(_) => return Err(ListError::Body("bad cursor".into())),
    };
    Ok(page)
}

/// GETs one page.
pub async fn fetch_page(
    http: &reqwest::Client,
    cfg: &MirrorConfig,
    cursor: Option<&str>,
) -> Result<Page, ListError> {
    let url = format!("{}/xrpc/org.xmtp.identity.listLinks", cfg.upstream);
    let limit = cfg.page_limit.clamp(1, 1000).to_string();
    let mut query = vec![("status", "all"), ("limit", limit.as_str())];
    if let Some(c) = cursor {
        query.push(("cursor", c));
    }
    let req = http.get(&url).query(&query).timeout(cfg.request_timeout);
    let mut resp = req
        .send()
        .await
        .map_err(|e| ListError::Request(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(ListError::Status(resp.status().as_u16()));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > cfg.max_page_bytes as u64)
    {
        return Err(ListError::TooLarge(cfg.max_page_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ListError::Request(e.to_string()))?
    {
        if body.len() + chunk.len() > cfg.max_page_bytes {
            return Err(ListError::TooLarge(cfg.max_page_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    parse_page(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_keeps_good_entries_and_counts_bad_ones() {
        let body = json!({
            "links": [
                {"did": "did:plc:aaa", "status": "verified", "record": {"cid": "bafyA"}},
                {"did": "not a did"},
                {"did": 42},
                {"status": "verified"},
                {"did": "did:web:b.test", "record": {"cid": 7}},
            ],
            "cursor": "v1.00"
        });
        let p = parse_page(body.to_string().as_bytes()).unwrap();
        assert_eq!(p.links.len(), 2);
        assert_eq!(p.skipped, 3);
        assert_eq!(p.links[0].cid.as_deref(), Some("bafyA"));
        assert_eq!(p.links[0].status.as_deref(), Some("verified"));
        assert_eq!(p.links[1].cid, None);
        assert_eq!(p.cursor.as_deref(), Some("v1.00"));
    }

    #[test]
    fn a_malformed_page_is_an_error_not_an_empty_page() {
        for body in [
            "not json".to_owned(),
            json!({"cursor": "x"}).to_string(),
            json!({"links": [], "cursor": 5}).to_string(),
            json!({"links": [], "cursor": "x".repeat(5000)}).to_string(),
        ] {
            assert!(parse_page(body.as_bytes()).is_err(), "{body}");
        }
        let last = parse_page(json!({"links": []}).to_string().as_bytes()).unwrap();
        assert_eq!(last.cursor, None);
    }
}
