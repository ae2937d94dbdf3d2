//! What a listing says that our index does not: a listed link whose record CID or status
//! differs from ours, and a link of ours the upstream does not list (it may have been removed
//! while we were not following). Either way the DID is only worth a look: the resync decides.

use std::collections::{HashSet, VecDeque};

use syntax::Did;

use crate::listing::Listed;

/// Whether a listed link says something our copy (`(cid, status)`) does not.
pub(crate) fn differs(ours: Option<&(String, String)>, listed: &Listed) -> bool {
    match ours {
        None => true,
        Some((cid, status)) => {
            listed.cid.as_deref() != Some(cid.as_str())
                || listed.status.as_deref() != Some(status.as_str())
        }
    }
}

const PAGE: usize = 1000;

/// Our own links in the index's DID order (`store::did_key`), walked alongside the
/// upstream's listing (which our servers give in that order too). An upstream that does not list in strictly increasing DID order
/// turns the walk off for that pass: then no removal is inferred, nothing else changes.
pub(crate) struct OurWalk {
    reader: store::Reader,
    buf: VecDeque<Did>,
    cursor: Option<String>,
    exhausted: bool,
    upstream_last: Option<String>,
    on: bool,
}

impl OurWalk {
    pub(crate) fn new(reader: store::Reader) -> Self {
        OurWalk {
            reader,
            buf: VecDeque::new(),
            cursor: None,
            exhausted: false,
            upstream_last: None,
            on: true,
        }
    }

    /// Whether removals are still inferred in this pass.
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Our DIDs up to the page's last one (all that remain when `last_page`) that the page
    /// does not list.
    pub(crate) async fn unlisted(
        &mut self,
        page: &[Listed],
        last_page: bool,
    ) -> Result<Vec<Did>, store::StoreError> {
        if !self.on {
            return Ok(Vec::new());
        }
        for l in page {
            let did = l.did.as_str();
            if self
                .upstream_last
                .as_deref()
                .is_some_and(|p| store::did_key(p) >= store::did_key(did))
            {
                self.on = false;
                tracing::warn!("upstream listLinks is not in DID order; removals not inferred");
                return Ok(Vec::new());
            }
            self.upstream_last = Some(did.to_owned());
        }
        let listed: HashSet<&str> = page.iter().map(|l| l.did.as_str()).collect();
        let upto = if last_page {
            None
        } else {
            self.upstream_last.clone()
        };
        let mut out = Vec::new();
        loop {
            if self.buf.is_empty() && !self.exhausted {
                let (links, next) = self
                    .reader
                    .list_links(None, self.cursor.take(), PAGE)
                    .await?;
                self.buf.extend(links.into_iter().map(|l| l.did));
                self.exhausted = next.is_none();
                self.cursor = next;
            }
            let Some(front) = self.buf.front() else { break };
            if upto
                .as_deref()
                .is_some_and(|u| store::did_key(front) > store::did_key(u))
            {
                break;
            }
            let Some(did) = self.buf.pop_front() else {
                break;
            };
            if !listed.contains(did.as_str()) {
                out.push(did);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{Batch, Change, RecordInput};

    fn listed(did: &str) -> Listed {
        Listed {
            did: syntax::Did::parse(did).unwrap(),
            cid: None,
            status: None,
        }
    }

    async fn index_of(dids: &[&str]) -> (tempfile::TempDir, store::Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = store::Store::open(&dir.path().join("i.sqlite")).unwrap();
        let changes = dids
            .iter()
            .map(|d| Change::PutRecord {
                did: syntax::Did::parse(d).unwrap(),
                rev: None,
                record: RecordInput {
                    cid: syntax::Cid::parse("bafyreiaaaaaaaa").unwrap(),
                    inbox_id: "ab".repeat(32),
                    verification_signature: "c2ln".into(),
                    created_at: "2026-01-01T00:00:00.000Z".into(),
                    malformed: None,
                },
            })
            .collect();
        store.writer().apply(Batch::of(changes)).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn links_of_ours_the_listing_skips_are_found_page_by_page() {
        let (_d, store) = index_of(&["did:plc:a", "did:plc:b", "did:plc:d", "did:plc:f"]).await;
        let mut walk = OurWalk::new(store.reader());
        let p1 = [listed("did:plc:a"), listed("did:plc:c")];
        assert_eq!(walk.unlisted(&p1, false).await.unwrap(), vec!["did:plc:b"]);
        let p2 = [listed("did:plc:d"), listed("did:plc:e")];
        assert_eq!(walk.unlisted(&p2, true).await.unwrap(), vec!["did:plc:f"]);
        assert!(walk.is_on());
    }

    #[tokio::test]
    async fn an_unordered_listing_infers_no_removal() {
        let (_d, store) = index_of(&["did:plc:a", "did:plc:b"]).await;
        let mut walk = OurWalk::new(store.reader());
        let p = [listed("did:plc:c"), listed("did:plc:a")];
        assert!(walk.unlisted(&p, true).await.unwrap().is_empty());
        assert!(!walk.is_on());
        // An empty listing of a non-empty index: every link of ours is worth a look.
        let mut walk = OurWalk::new(store.reader());
        assert_eq!(
            walk.unlisted(&[], true).await.unwrap(),
            vec!["did:plc:a", "did:plc:b"]
        );
    }
}
