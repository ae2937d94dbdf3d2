//! The tracked DIDs: the repos whose events must be processed (they have, or had, an
//! `org.xmtp.inbox` record). Asked on every commit frame by the gate, so it must answer in
//! well under a microsecond, and it must fit in a few MiB with a million links indexed.
//!
//! Three parts, for an exact answer:
//! - a split-block Bloom filter over every DID the index tracked at start-up (streamed from
//!   the store, 12 bits per DID counted): a DID it rules out is not tracked;
//! - the index itself, probed (two primary keys, a few microseconds) for the DIDs the filter
//!   lets through: the tracked ones and ~0.5% of the others (12 bits per DID);
//! - the DIDs tracked since start-up (a new link), in a small set in memory, since the
//!   index learns of them only when their batch is written.
//!
//! So `contains` is exactly "tracked by the index at start-up and still, or tracked since":
//! what a set loaded at start-up gave, except a DID whose link and repo state have both left
//! the index since (the set kept it until the next restart, which then dropped it; the
//! store keeps a repo state, the rev floor, for every repo it followed). A probe that fails
//! counts as tracked (forwarding an irrelevant event only costs its check).

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, PoisonError, RwLock};

use store::StoreError;

use crate::metrics as m;

/// Filter bits per DID counted at start-up. The count is an upper bound (a DID with a link
/// and a repo state counts twice), so the filter is often emptier than this.
const BITS_PER_KEY: u64 = 12;

/// The salts of Parquet's split-block Bloom filter: one bit per 32-bit word of a block.
const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// A split-block Bloom filter: 256-bit blocks, a key sets 8 bits of the one block its hash
/// picks (one cache line read per lookup). Keyed by a per-process random hasher, so nobody
/// can pick DIDs that all pass it.
#[derive(Default)]
pub(crate) struct Filter {
    blocks: Vec<[u32; 8]>,
    hasher: RandomState,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("bytes", &(self.blocks.len() * 32))
            .finish()
    }
}

impl Filter {
    /// A filter sized for `keys` DIDs (empty, and ruling out everything, for 0).
    pub(crate) fn with_capacity(keys: u64) -> Self {
        let blocks = keys.saturating_mul(BITS_PER_KEY).div_ceil(256);
        Filter {
            blocks: vec![[0; 8]; usize::try_from(blocks).unwrap_or(usize::MAX)],
            hasher: RandomState::new(),
        }
    }

    fn locate(&self, did: &str) -> Option<(usize, [u32; 8])> {
        if self.blocks.is_empty() {
            return None;
        }
        let h = self.hasher.hash_one(did);
        let block = (((h >> 32) * self.blocks.len() as u64) >> 32) as usize;
        let x = h as u32;
        Some((block, SALT.map(|s| 1u32 << (x.wrapping_mul(s) >> 27))))
    }

    /// Adds `did`.
    pub(crate) fn insert(&mut self, did: &str) {
        if let Some((i, mask)) = self.locate(did) {
            for (w, b) in self.blocks[i].iter_mut().zip(mask) {
                *w |= b;
            }
        }
    }

    /// False when `did` was never added; true for every DID added and a few others.
    pub(crate) fn may_contain(&self, did: &str) -> bool {
        match self.locate(did) {
            Some((i, mask)) => self.blocks[i].iter().zip(mask).all(|(w, b)| w & b == b),
            None => false,
        }
    }

    /// Its size in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.blocks.len() * 32
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Every DID the index tracked at start-up (and a few others).
    filter: Filter,
    /// DIDs streamed into the filter (a DID with a link and a repo state counts twice).
    loaded: u64,
    /// The index behind the filter (none for a set that starts empty).
    index: Option<store::Reader>,
    /// DIDs tracked since start-up.
    added: RwLock<HashSet<String>>,
}

/// The tracked DIDs, shared by the gate, the processor and the workers; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TrackedSet {
    inner: Arc<Inner>,
}

impl TrackedSet {
    /// An empty set, with no index behind it.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set of what `reader`'s index tracks now: builds the filter from a streaming walk
    /// of the index (no list of DIDs is held) and probes the index behind it.
    pub async fn load(reader: &store::Reader) -> Result<Self, StoreError> {
        let (filter, loaded) = reader
            .fold_tracked_dids(
                |bound| (Filter::with_capacity(bound), 0u64),
                |(f, n), did| {
                    f.insert(did);
                    *n += 1;
                },
            )
            .await?;
        tracing::debug!(loaded, filter_bytes = filter.bytes(), "tracked DIDs loaded");
        Ok(TrackedSet {
            inner: Arc::new(Inner {
                filter,
                loaded,
                index: Some(reader.clone()),
                added: RwLock::default(),
            }),
        })
    }

    /// Whether `did`'s events must be processed. The DID as the frame carries it (text, not
    /// a `syntax::Did`): asked for every forwarded event without allocating; a DID that
    /// would not parse was never inserted, so it is simply not tracked.
    pub fn contains(&self, did: &str) -> bool {
        let added = self
            .inner
            .added
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if added.contains(did) {
            return true;
        }
        drop(added);
        self.inner.filter.may_contain(did) && self.probe(did)
    }

    fn probe(&self, did: &str) -> bool {
        let Some(index) = &self.inner.index else {
            return false;
        };
        match index.tracks_did(did) {
            Ok(t) => {
                let outcome = if t { "tracked" } else { "untracked" };
                metrics::counter!(m::TRACKED_PROBES, "outcome" => outcome).increment(1);
                t
            }
            Err(e) => {
                metrics::counter!(m::TRACKED_PROBES, "outcome" => "error").increment(1);
                tracing::warn!(did, error = %e, "could not probe the index for a tracked DID; treated as tracked");
                true
            }
        }
    }

    /// Tracks `did` from now on (its first `org.xmtp.inbox` commit, whose DID `sync` has
    /// parsed); a DID already tracked is not stored again.
    pub fn insert(&self, did: &str) {
        if self.contains(did) {
            return;
        }
        self.inner
            .added
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(did.to_owned());
    }

    /// DIDs streamed in at start-up (an upper bound on those tracked then).
    pub fn loaded(&self) -> u64 {
        self.inner.loaded
    }

    /// DIDs tracked since start-up.
    pub fn added(&self) -> usize {
        self.inner
            .added
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The filter's size in bytes.
    pub fn filter_bytes(&self) -> usize {
        self.inner.filter.bytes()
    }
}
