//! The relay: `com.atproto.sync.subscribeRepos` over WebSocket with a persisted, bounded
//! event log (replay from a cursor, `OutdatedCursor`, `FutureCursor`, `ConsumerTooSlow`),
//! plus `listRepos` / `listReposByCollection` / `getRepoStatus` / `getLatestCommit`.
//!
//! The PDS hands its events to [`Relay::publish`] in process; the relay assigns `seq`,
//! encodes the frame once with `wire::frame`, keeps it in the window and fans it out.
//! Fault controls (garbage frames, drops after N frames, stalls, seq gaps) let tests
//! exercise a consumer's error paths against real sockets.

mod frames;
mod index;
mod log;
mod stream;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cid::Cid;
use tokio::sync::{broadcast, watch};

use super::error::AtmosphereError;
use super::http::{HttpFaults, ServerHandle, SharedFaults, set_faults};
pub(crate) use super::locks::lock;
use index::RepoIndex;
use log::{EventLog, LoggedFrame};

pub use index::RepoListing;

/// What a repo operation did (`#commit` `ops[].action`): the MST code's own type, so that
/// the PDS hands its ops to `repo::Mst` as they are.
pub use repo::OpAction;

/// One `repoOp` of a `#commit`: the repo writer's own type.
pub use repo::CommitOp;

/// A Sync 1.1 `#commit` before sequencing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitEvent {
    /// The account DID.
    pub repo: String,
    /// Revision (TID) of this commit.
    pub rev: String,
    /// Revision of the previous commit, None for the first.
    pub since: Option<String>,
    /// CID of the signed commit block (first CAR root).
    pub commit: Cid,
    /// The CAR slice.
    pub blocks: Vec<u8>,
    /// Record operations.
    pub ops: Vec<CommitOp>,
    /// MST root of the previous commit (None for the first commit).
    pub prev_data: Option<Cid>,
}

/// An event the relay sequences and broadcasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEvent {
    /// `#commit`.
    Commit(CommitEvent),
    /// `#sync`: the repo's current commit (`blocks` = CAR with only the commit block).
    Sync {
        /// Account DID.
        did: String,
        /// Revision of that commit.
        rev: String,
        /// CID of the commit (for the relay's own listRepos; not on the wire).
        commit: Cid,
        /// CAR holding only the signed commit block.
        blocks: Vec<u8>,
    },
    /// `#identity`.
    Identity {
        /// Account DID.
        did: String,
        /// Current handle, if announced.
        handle: Option<String>,
    },
    /// `#account`.
    Account {
        /// Account DID.
        did: String,
        /// Whether the account is active.
        active: bool,
        /// `takendown`, `suspended`, `deleted`, `deactivated`, ... when inactive.
        status: Option<String>,
    },
}

/// Relay settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// How many events the replay window holds.
    pub window: usize,
    /// Per-subscriber live buffer (frames); overflow = `ConsumerTooSlow`.
    pub send_buffer: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            window: 100_000,
            send_buffer: 65_536,
        }
    }
}

/// What the live channel carries to every connected subscriber.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    /// A sequenced event.
    Frame(LoggedFrame),
    /// Bytes that are not a valid frame (fault injection).
    Garbage(Bytes),
    /// Drop every connection abruptly (fault injection).
    Disconnect,
}

#[derive(Debug, Default)]
pub(crate) struct StreamFaults {
    /// Close each new connection abruptly after this many frames.
    pub(crate) drop_after: Option<usize>,
    /// No frame is sent before this instant.
    pub(crate) stalled_until: Option<Instant>,
    /// Numbers skipped before the next seq.
    pub(crate) next_gap: i64,
    /// The next this many `#commit`s are lost (never sequenced).
    pub(crate) lose_commits: usize,
    /// Envelope rewrites applied to the next `#commit`s, in order (a lying relay).
    pub(crate) lies: std::collections::VecDeque<Lie>,
}

/// An envelope rewrite of a lying relay: it may change anything but the signed commit
/// block itself (ops, `prevData`, `since`, extra CAR blocks).
pub struct Lie(Box<dyn FnOnce(&mut CommitEvent) + Send>);

impl std::fmt::Debug for Lie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lie")
    }
}

/// State shared by the relay's handlers and controls.
#[derive(Debug)]
pub(crate) struct RelayShared {
    pub(crate) log: Mutex<EventLog>,
    pub(crate) live: broadcast::Sender<Outgoing>,
    pub(crate) index: Mutex<RepoIndex>,
    pub(crate) faults: Mutex<StreamFaults>,
    pub(crate) http_faults: SharedFaults,
    /// Where `getRepo` redirects (the PDS), like a non-archival Sync 1.1 relay.
    pub(crate) upstream: Mutex<Option<String>>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// A running relay on loopback. Cloning shares the same relay.
#[derive(Debug, Clone)]
pub struct Relay {
    shared: Arc<RelayShared>,
    server: Arc<ServerHandle>,
}

impl Relay {
    /// Starts a relay on `127.0.0.1:0`.
    pub async fn start(config: RelayConfig) -> Result<Relay, AtmosphereError> {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (live, _) = broadcast::channel(config.send_buffer.max(1));
        let shared = Arc::new(RelayShared {
            log: Mutex::new(EventLog::new(config.window)),
            live,
            index: Mutex::new(RepoIndex::default()),
            faults: Mutex::new(StreamFaults::default()),
            http_faults: SharedFaults::default(),
            upstream: Mutex::new(None),
            shutdown: shutdown_rx,
        });
        let server =
            ServerHandle::spawn("relay", stream::router(shared.clone()), shutdown_tx).await?;
        Ok(Relay {
            shared,
            server: Arc::new(server),
        })
    }

    /// `ws://127.0.0.1:<port>`: what `--relay` takes.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.server.addr())
    }

    /// `http://127.0.0.1:<port>`: what `--discovery` takes.
    pub fn http_url(&self) -> String {
        self.server.http_url()
    }

    /// Sequences, persists and broadcasts an event; returns its `seq`, or 0 when the event
    /// was lost on purpose (see [`Relay::lose_next_commits`]).
    pub fn publish(&self, mut event: RelayEvent) -> i64 {
        if let RelayEvent::Commit(commit) = &mut event {
            let mut faults = lock(&self.shared.faults);
            if faults.lose_commits > 0 {
                faults.lose_commits -= 1;
                return 0;
            }
            if let Some(Lie(rewrite)) = faults.lies.pop_front() {
                rewrite(commit);
            }
        }
        lock(&self.shared.index).observe(&event);
        let mut log = lock(&self.shared.log);
        let gap = std::mem::take(&mut lock(&self.shared.faults).next_gap);
        let seq = log.next_seq(gap);
        let entry = LoggedFrame {
            seq,
            frame: Bytes::from(frames::encode(seq, &event)),
        };
        log.push(entry.clone());
        // Sent under the log lock so that subscribers switching from replay to live
        // (also under the lock) neither miss nor reorder an event.
        let _ = self.shared.live.send(Outgoing::Frame(entry));
        seq
    }

    /// Highest seq assigned so far (0 before the first event).
    pub fn current_seq(&self) -> i64 {
        lock(&self.shared.log).current()
    }

    /// Oldest seq still in the replay window.
    pub fn oldest_seq(&self) -> Option<i64> {
        lock(&self.shared.log).oldest()
    }

    /// The next event gets a seq `gap` higher than it would have (seq gaps are legal).
    pub fn skip_seq(&self, gap: i64) {
        lock(&self.shared.faults).next_gap += gap.max(0);
    }

    /// The next `n` `#commit`s are lost, never sequenced (a relay that missed events):
    /// the account's next commit has a `since` / `prevData` its consumers never saw, so they
    /// must mark it desynchronized and resync from the PDS.
    pub fn lose_next_commits(&self, n: usize) {
        lock(&self.shared.faults).lose_commits += n;
    }

    /// Lies about the next `#commit`: `rewrite` changes its unsigned envelope (ops,
    /// `prevData`, `since`, CAR blocks) before it is sequenced. Consumers must not believe
    /// anything the signed commit does not prove.
    pub fn rewrite_next_commit(&self, rewrite: impl FnOnce(&mut CommitEvent) + Send + 'static) {
        lock(&self.shared.faults)
            .lies
            .push_back(Lie(Box::new(rewrite)));
    }

    /// Sends `bytes` (not a valid frame) to every live subscriber.
    pub fn send_garbage(&self, bytes: Vec<u8>) {
        let _ = self.shared.live.send(Outgoing::Garbage(Bytes::from(bytes)));
    }

    /// Closes every current subscriber connection abruptly (no close frame).
    pub fn disconnect_all(&self) {
        let _ = self.shared.live.send(Outgoing::Disconnect);
    }

    /// New connections are cut abruptly after `frames` frames (None: never).
    pub fn set_drop_after(&self, frames: Option<usize>) {
        lock(&self.shared.faults).drop_after = frames;
    }

    /// Every subscriber stops sending for `duration` (a stalled relay).
    pub fn stall_for(&self, duration: Duration) {
        lock(&self.shared.faults).stalled_until = Some(Instant::now() + duration);
    }

    /// Replaces the HTTP fault settings (latency, 429 or 503 before the WebSocket upgrade
    /// and on the directory queries).
    pub fn set_http_faults(&self, faults: HttpFaults) {
        set_faults(&self.shared.http_faults, faults);
    }

    /// `getRepo` on the relay redirects (302) to this PDS base URL.
    pub fn set_upstream(&self, pds_url: Option<String>) {
        *lock(&self.shared.upstream) = pds_url;
    }

    /// Simulates a relay that lost its state: the log is emptied, the sequence restarts
    /// from 1 and every subscriber is cut; a consumer resuming with its old cursor now gets
    /// `FutureCursor`. Returns the number of events forgotten.
    pub fn reset(&self) -> usize {
        let forgotten = {
            let mut log = lock(&self.shared.log);
            let window = log.window();
            let forgotten = log.len();
            *log = EventLog::new(window);
            forgotten
        };
        let _ = self.shared.live.send(Outgoing::Disconnect);
        forgotten
    }

    /// Number of live subscribers right now.
    pub fn subscriber_count(&self) -> usize {
        self.shared.live.receiver_count()
    }

    /// The relay's view of a repo (what `listRepos` shows).
    pub fn repo(&self, did: &str) -> Option<RepoListing> {
        lock(&self.shared.index).repo(did)
    }
}
