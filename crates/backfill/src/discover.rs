//! Discovery: page `com.atproto.sync.listReposByCollection` on a service to the end, falling
//! back to `com.atproto.sync.listRepos` (every repo of a PDS) when the service answers
//! 400/404/501 (it does not offer the method). Each page's DIDs and the next cursor are saved
//! together, so a stopped discovery resumes at the page it stopped on.

use serde::Deserialize;
use store::{BackfillChange, BackfillSource, Batch, Change};
use tokio_util::sync::CancellationToken;

use crate::config::BackfillConfig;
use crate::http::{HostPool, MAX_PAGE_BYTES};
use crate::metrics as m;

/// How a service is paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `listReposByCollection` (relays, collection directories).
    ByCollection,
    /// `listRepos` (a PDS: every repo; each DID is checked).
    ListRepos,
}

impl Method {
    /// The XRPC method name.
    pub fn nsid(self) -> &'static str {
        match self {
            Method::ByCollection => "com.atproto.sync.listReposByCollection",
            Method::ListRepos => "com.atproto.sync.listRepos",
        }
    }

    /// The key a service's progress is stored under: `<base url>#<method>`.
    pub fn source_key(self, base: &str) -> String {
        format!("{}#{}", base.trim_end_matches('/'), self.nsid())
    }
}

#[derive(Deserialize)]
struct Page {
    cursor: Option<String>,
    #[serde(default)]
    repos: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    did: String,
    #[serde(default)]
    active: Option<bool>,
}

/// Percent-encodes a query value (unreserved characters kept).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn page_url(cfg: &BackfillConfig, base: &str, method: Method, cursor: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    let mut url = match method {
        Method::ByCollection => format!(
            "{base}/xrpc/{}?collection={}&limit={}",
            method.nsid(),
            enc(&cfg.collection),
            cfg.page_limit.clamp(1, 2000)
        ),
        Method::ListRepos => format!(
            "{base}/xrpc/{}?limit={}",
            method.nsid(),
            cfg.list_repos_limit.clamp(1, 1000)
        ),
    };
    if let Some(c) = cursor {
        url.push_str("&cursor=");
        url.push_str(&enc(c));
    }
    url
}

/// How paging one service ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paged {
    /// Read to the last page.
    Complete,
    /// Stopped by the shutdown signal.
    Interrupted,
    /// Gave up (retries exhausted or a bad answer); the cursor is kept for the next run.
    Failed,
}

/// Pages one discovery service from its saved position to the end.
pub async fn page_service(
    cfg: &BackfillConfig,
    pool: &HostPool,
    writer: &store::Writer,
    saved: &[BackfillSource],
    base: &str,
    shutdown: &CancellationToken,
) -> Result<Paged, store::StoreError> {
    // Resume with the method that was in use; a fallback is remembered by its key.
    let fallback_key = Method::ListRepos.source_key(base);
    let primary_key = Method::ByCollection.source_key(base);
    let (mut method, mut cursor) = if let Some(s) = saved.iter().find(|s| s.service == fallback_key)
    {
        if s.complete {
            return Ok(Paged::Complete);
        }
        (Method::ListRepos, s.cursor.clone())
    } else if let Some(s) = saved.iter().find(|s| s.service == primary_key) {
        if s.complete {
            return Ok(Paged::Complete);
        }
        (Method::ByCollection, s.cursor.clone())
    } else {
        (Method::ByCollection, None)
    };
    let mut pages = 0u64;
    loop {
        if shutdown.is_cancelled() {
            return Ok(Paged::Interrupted);
        }
        let url = page_url(cfg, base, method, cursor.as_deref());
        let answer = tokio::select! {
            _ = shutdown.cancelled() => return Ok(Paged::Interrupted),
            a = pool.get(&url, MAX_PAGE_BYTES) => a,
        };
        let answer = match answer {
            Ok(a) => a,
            Err(why) => {
                tracing::warn!(
                    service = base,
                    method = method.nsid(),
                    why = %why,
                    "discovery page failed; will resume from here next run"
                );
                return Ok(Paged::Failed);
            }
        };
        if answer.status != 200 {
            if method == Method::ByCollection
                && cursor.is_none()
                && matches!(answer.status, 400 | 404 | 501)
            {
                tracing::info!(
                    service = base,
                    status = answer.status,
                    "no listReposByCollection here; falling back to listRepos"
                );
                method = Method::ListRepos;
                continue;
            }
            tracing::warn!(
                service = base,
                method = method.nsid(),
                status = answer.status,
                "discovery page refused"
            );
            return Ok(Paged::Failed);
        }
        let page: Page = match serde_json::from_slice(&answer.body) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(service = base, error = %e, "discovery page is not valid JSON");
                return Ok(Paged::Failed);
            }
        };
        let listed = page.repos.len();
        let dids: Vec<String> = page
            .repos
            .into_iter()
            .filter(|e| e.active != Some(false))
            .filter_map(|e| {
                syntax::Did::parse(&e.did)
                    .ok()
                    .map(|d| d.as_str().to_owned())
            })
            .collect();
        metrics::counter!(m::REPOS_DISCOVERED, "method" => method.nsid())
            .increment(dids.len() as u64);
        // An empty page or a cursor that does not move ends the listing (never loop forever).
        let next = page
            .cursor
            .filter(|c| !c.is_empty() && listed > 0 && Some(c) != cursor.as_ref());
        let complete = next.is_none();
        writer
            .apply(Batch::of(vec![Change::Backfill(BackfillChange::Page {
                service: method.source_key(base),
                cursor: next.clone(),
                complete,
                dids,
            })]))
            .await?;
        pages += 1;
        if complete {
            tracing::info!(
                service = base,
                method = method.nsid(),
                pages,
                "discovery complete"
            );
            return Ok(Paged::Complete);
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_carry_collection_limit_and_encoded_cursor() {
        let cfg = BackfillConfig::default();
        assert_eq!(
            page_url(
                &cfg,
                "http://relay/",
                Method::ByCollection,
                Some("did:plc:a")
            ),
            "http://relay/xrpc/com.atproto.sync.listReposByCollection?collection=org.xmtp.inbox&limit=2000&cursor=did%3Aplc%3Aa"
        );
        assert_eq!(
            page_url(&cfg, "http://pds", Method::ListRepos, None),
            "http://pds/xrpc/com.atproto.sync.listRepos?limit=1000"
        );
    }
}
