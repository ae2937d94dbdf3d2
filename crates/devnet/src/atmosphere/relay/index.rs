//! What the relay knows about repos, fed by the events it sequences: the latest commit and
//! hosting status per DID (for `listRepos`, `getRepoStatus`, `getLatestCommit`) and the
//! DIDs that created records of each collection (for `listReposByCollection`, which, like
//! Bluesky's collection directory, keeps a DID after its record is deleted).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{OpAction, RelayEvent};

/// One repo as the relay lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoListing {
    /// Account DID.
    pub did: String,
    /// CID of the latest commit (string form).
    pub head: String,
    /// Revision of the latest commit.
    pub rev: String,
    /// Whether the account is active.
    pub active: bool,
    /// Status when inactive.
    pub status: Option<String>,
}

/// The relay's repo directory.
#[derive(Debug, Default)]
pub(crate) struct RepoIndex {
    repos: BTreeMap<String, RepoListing>,
    by_collection: HashMap<String, BTreeSet<String>>,
}

impl RepoIndex {
    /// Updates the directory from an event about to be sequenced.
    pub(crate) fn observe(&mut self, event: &RelayEvent) {
        match event {
            RelayEvent::Commit(commit) => {
                self.set_head(&commit.repo, commit.commit.to_string(), &commit.rev);
                for op in &commit.ops {
                    if op.action == OpAction::Create
                        && let Some((collection, _)) = op.path.split_once('/')
                    {
                        self.by_collection
                            .entry(collection.to_owned())
                            .or_default()
                            .insert(commit.repo.clone());
                    }
                }
            }
            RelayEvent::Sync {
                did, rev, commit, ..
            } => self.set_head(did, commit.to_string(), rev),
            RelayEvent::Identity { .. } => {}
            RelayEvent::Account {
                did,
                active,
                status,
            } => {
                if status.as_deref() == Some("deleted") {
                    self.repos.remove(did);
                    for dids in self.by_collection.values_mut() {
                        dids.remove(did);
                    }
                } else if let Some(listing) = self.repos.get_mut(did) {
                    listing.active = *active;
                    listing.status = if *active { None } else { status.clone() };
                }
            }
        }
    }

    fn set_head(&mut self, did: &str, head: String, rev: &str) {
        let listing = self
            .repos
            .entry(did.to_owned())
            .or_insert_with(|| RepoListing {
                did: did.to_owned(),
                head: String::new(),
                rev: String::new(),
                active: true,
                status: None,
            });
        listing.head = head;
        listing.rev = rev.to_owned();
    }

    /// One repo.
    pub(crate) fn repo(&self, did: &str) -> Option<RepoListing> {
        self.repos.get(did).cloned()
    }

    /// A page of repos with DID `> cursor`, in DID order; the cursor of the next page.
    pub(crate) fn list(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> (Vec<RepoListing>, Option<String>) {
        let iter = match cursor {
            Some(cursor) => self.repos.range::<str, _>((
                std::ops::Bound::Excluded(cursor),
                std::ops::Bound::Unbounded,
            )),
            None => self.repos.range::<str, _>(..),
        };
        let mut page: Vec<RepoListing> = iter
            .take(limit + 1)
            .map(|(_, listing)| listing.clone())
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let next = more
            .then(|| page.last().map(|listing| listing.did.clone()))
            .flatten();
        (page, next)
    }

    /// A page of DIDs holding `collection`, DID `> cursor`; the cursor of the next page.
    pub(crate) fn list_by_collection(
        &self,
        collection: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> (Vec<String>, Option<String>) {
        let Some(dids) = self.by_collection.get(collection) else {
            return (Vec::new(), None);
        };
        let iter = match cursor {
            Some(cursor) => dids.range::<str, _>((
                std::ops::Bound::Excluded(cursor),
                std::ops::Bound::Unbounded,
            )),
            None => dids.range::<str, _>(..),
        };
        let mut page: Vec<String> = iter.take(limit + 1).cloned().collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let next = more.then(|| page.last().cloned()).flatten();
        (page, next)
    }
}
