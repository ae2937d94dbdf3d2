//! The PDS: accounts with a K-256 signing key, a handle and a real repo. Every write is a
//! signed commit whose Sync 1.1 diff goes to the relay in process; the XRPC sync and repo
//! endpoints serve records, proofs and full repos over HTTP.

mod forge;
mod repo;
mod server;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use ::repo::{Curve, PrivateKey, sha256};
use cid::Cid;

use super::error::AtmosphereError;
use super::http::{HttpFaults, ServerHandle, SharedFaults};
pub(crate) use super::locks::lock;
use super::locks::{read, write};
use super::plc::{PlcDirectory, PlcEntry};
use super::relay::{Relay, RelayEvent};
use super::tid::TidClock;

pub use forge::Forgery;
pub use repo::Write;

/// PDS settings.
#[derive(Debug, Clone, Default)]
pub struct PdsConfig {
    /// Seed of the deterministic account keys (None: random keys).
    pub key_seed: Option<u64>,
    /// `sync.getRecord` of a missing record answers `RecordNotFound` instead of a proof of
    /// absence (both behaviours exist in the wild).
    pub absent_record_is_error: bool,
}

/// An account as the PDS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// The account DID.
    pub did: String,
    /// The current handle.
    pub handle: String,
    /// Whether the account is active.
    pub active: bool,
    /// Hosting status when inactive (`takendown`, `deactivated`, ...).
    pub status: Option<String>,
    /// The `#atproto` signing key, Multikey multibase.
    pub signing_key: String,
}

/// The result of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The account DID.
    pub did: String,
    /// Revision of the new commit.
    pub rev: String,
    /// CID of the signed commit.
    pub commit: Cid,
    /// The relay seq of its `#commit` event.
    pub seq: i64,
    /// The record CIDs written, by path (deletes map to None).
    pub cids: BTreeMap<String, Option<Cid>>,
}

#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) did: String,
    pub(crate) handle: String,
    pub(crate) key: PrivateKey,
    pub(crate) repo: repo::Repository,
    pub(crate) active: bool,
    pub(crate) status: Option<String>,
}

impl Account {
    fn info(&self) -> AccountInfo {
        AccountInfo {
            did: self.did.clone(),
            handle: self.handle.clone(),
            active: self.active,
            status: self.status.clone(),
            signing_key: self.key.public_key().multibase(),
        }
    }
}

type AccountRef = Arc<Mutex<Account>>;

#[derive(Debug)]
pub(crate) struct PdsShared {
    pub(crate) config: PdsConfig,
    accounts: RwLock<BTreeMap<String, AccountRef>>,
    handles: RwLock<HashMap<String, String>>,
    relay: Relay,
    plc: PlcDirectory,
    clock: TidClock,
    keys_minted: Mutex<u64>,
    pub(crate) faults: SharedFaults,
}

/// A handle in its normal form, or why it is not one.
fn parse_handle(handle: &str) -> Result<String, AtmosphereError> {
    syntax::Handle::parse(handle)
        .map(|handle| handle.to_string())
        .map_err(|error| AtmosphereError::InvalidRecord(format!("handle: {error}")))
}

impl PdsShared {
    pub(crate) fn account(&self, did: &str) -> Option<AccountRef> {
        read(&self.accounts).get(did).cloned()
    }

    pub(crate) fn did_for_handle(&self, handle: &str) -> Option<String> {
        read(&self.handles)
            .get(&handle.to_ascii_lowercase())
            .cloned()
    }

    /// DIDs in order, after `cursor`, at most `limit`.
    pub(crate) fn dids_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Vec<(String, AccountRef)> {
        let accounts = read(&self.accounts);
        let range = match cursor {
            Some(cursor) => accounts.range::<str, _>((
                std::ops::Bound::Excluded(cursor),
                std::ops::Bound::Unbounded,
            )),
            None => accounts.range::<str, _>(..),
        };
        range
            .take(limit)
            .map(|(did, account)| (did.clone(), account.clone()))
            .collect()
    }

    fn new_key(&self) -> Result<PrivateKey, AtmosphereError> {
        let Some(seed) = self.config.key_seed else {
            return Ok(PrivateKey::generate(Curve::K256));
        };
        let mut minted = lock(&self.keys_minted);
        loop {
            *minted += 1;
            let mut material = b"xmtp-appview devnet key".to_vec();
            material.extend_from_slice(&seed.to_be_bytes());
            material.extend_from_slice(&minted.to_be_bytes());
            if let Ok(key) = PrivateKey::from_bytes(Curve::K256, &sha256(&material)) {
                return Ok(key);
            }
        }
    }
}

/// A running PDS on loopback. Cloning shares the same PDS.
#[derive(Debug, Clone)]
pub struct Pds {
    shared: Arc<PdsShared>,
    server: Arc<ServerHandle>,
}

impl Pds {
    /// Starts a PDS on `127.0.0.1:0` that registers its accounts in `plc` and hands its
    /// events to `relay`.
    pub async fn start(
        config: PdsConfig,
        plc: PlcDirectory,
        relay: Relay,
    ) -> Result<Pds, AtmosphereError> {
        let shared = Arc::new(PdsShared {
            config,
            accounts: RwLock::new(BTreeMap::new()),
            handles: RwLock::new(HashMap::new()),
            relay,
            plc,
            clock: TidClock::new(1),
            keys_minted: Mutex::new(0),
            faults: SharedFaults::default(),
        });
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let server = ServerHandle::spawn("pds", server::router(shared.clone()), shutdown).await?;
        Ok(Pds {
            shared,
            server: Arc::new(server),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:40002` (the `#atproto_pds` endpoint and the
    /// `resolveHandle` service).
    pub fn url(&self) -> String {
        self.server.http_url()
    }

    /// Creates an account: mints a did:plc, registers its document, emits `#identity`,
    /// `#account` (active) and the genesis `#commit` of its empty repo.
    pub fn create_account(&self, handle: &str) -> Result<AccountInfo, AtmosphereError> {
        let handle = parse_handle(handle)?;
        let mut handles = write(&self.shared.handles);
        if handles.contains_key(&handle) {
            return Err(AtmosphereError::HandleTaken(handle));
        }
        let did = self.shared.plc.mint_did(&handle);
        let key = self.shared.new_key()?;
        self.shared.plc.register(PlcEntry {
            did: did.clone(),
            handle: Some(handle.clone()),
            signing_key_multibase: key.public_key().multibase(),
            pds_endpoint: self.url(),
        });
        let mut account = Account {
            did: did.clone(),
            handle: handle.clone(),
            key,
            repo: repo::Repository::new(&did),
            active: true,
            status: None,
        };
        let genesis = account
            .repo
            .commit(&[], &account.key, self.shared.clock.next())?;
        let info = account.info();
        let account = Arc::new(Mutex::new(account));
        // Registered before its events are published (a consumer may call back at once),
        // and locked until they are, so that no later write overtakes the genesis commit.
        let guard = lock(&account);
        handles.insert(handle.clone(), did.clone());
        drop(handles);
        write(&self.shared.accounts).insert(did.clone(), account.clone());
        let relay = &self.shared.relay;
        relay.publish(RelayEvent::Identity {
            did: did.clone(),
            handle: Some(handle),
        });
        relay.publish(RelayEvent::Account {
            did,
            active: true,
            status: None,
        });
        relay.publish(RelayEvent::Commit(genesis));
        drop(guard);
        Ok(info)
    }

    fn account(&self, did: &str) -> Result<AccountRef, AtmosphereError> {
        self.shared
            .account(did)
            .ok_or_else(|| AtmosphereError::UnknownAccount(did.to_owned()))
    }

    /// Applies `writes` as one signed commit and publishes its `#commit`.
    pub fn apply_writes(&self, did: &str, writes: &[Write]) -> Result<CommitInfo, AtmosphereError> {
        let account = self.account(did)?;
        let mut account = lock(&account);
        if !account.active {
            return Err(AtmosphereError::AccountInactive(did.to_owned()));
        }
        let rev = self.shared.clock.next();
        let account = &mut *account;
        let event = account.repo.commit(writes, &account.key, rev)?;
        let info = CommitInfo {
            did: did.to_owned(),
            rev: event.rev.clone(),
            commit: event.commit,
            seq: 0,
            cids: event
                .ops
                .iter()
                .map(|op| (op.path.clone(), op.cid))
                .collect(),
        };
        // Published under the account lock: one DID's events reach the relay in order.
        let seq = self.shared.relay.publish(RelayEvent::Commit(event));
        Ok(CommitInfo { seq, ..info })
    }

    /// Creates `collection/rkey`.
    pub fn create_record(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
        value: serde_json::Value,
    ) -> Result<CommitInfo, AtmosphereError> {
        let path = format!("{collection}/{rkey}");
        self.apply_writes(did, &[Write::Create { path, value }])
    }

    /// Replaces `collection/rkey` (which must exist).
    pub fn update_record(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
        value: serde_json::Value,
    ) -> Result<CommitInfo, AtmosphereError> {
        let path = format!("{collection}/{rkey}");
        self.apply_writes(did, &[Write::Update { path, value }])
    }

    /// Creates or replaces `collection/rkey`.
    pub fn put_record(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
        value: serde_json::Value,
    ) -> Result<CommitInfo, AtmosphereError> {
        let path = format!("{collection}/{rkey}");
        self.apply_writes(did, &[Write::Put { path, value }])
    }

    /// Deletes `collection/rkey` (which must exist).
    pub fn delete_record(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
    ) -> Result<CommitInfo, AtmosphereError> {
        let path = format!("{collection}/{rkey}");
        self.apply_writes(did, &[Write::Delete { path }])
    }

    /// The current record at `collection/rkey`: its CID and JSON value.
    pub fn record(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
    ) -> Result<Option<(Cid, serde_json::Value)>, AtmosphereError> {
        let account = self.account(did)?;
        let account = lock(&account);
        Ok(account
            .repo
            .record(&format!("{collection}/{rkey}"))
            .map(|record| (record.cid, record.value.clone())))
    }

    /// The account's current state.
    pub fn account_info(&self, did: &str) -> Result<AccountInfo, AtmosphereError> {
        Ok(lock(&*self.account(did)?).info())
    }

    /// All hosted DIDs, in order.
    pub fn dids(&self) -> Vec<String> {
        self.shared
            .dids_after(None, usize::MAX)
            .into_iter()
            .map(|(did, _)| did)
            .collect()
    }

    /// Changes the hosting status and emits `#account`. `status = "deleted"` also removes
    /// the repo and tombstones the DID in the PLC directory.
    pub fn set_account_status(
        &self,
        did: &str,
        active: bool,
        status: Option<&str>,
    ) -> Result<i64, AtmosphereError> {
        let account = self.account(did)?;
        let mut account = lock(&account);
        account.active = active;
        account.status = if active {
            None
        } else {
            status.map(str::to_owned)
        };
        let seq = self.shared.relay.publish(RelayEvent::Account {
            did: did.to_owned(),
            active,
            status: status.map(str::to_owned),
        });
        if status == Some("deleted") {
            let handle = account.handle.clone();
            drop(account);
            write(&self.shared.accounts).remove(did);
            write(&self.shared.handles).remove(&handle);
            self.shared.plc.tombstone(did)?;
        }
        Ok(seq)
    }

    /// Changes the handle (PLC `alsoKnownAs` and `resolveHandle`) and emits `#identity`.
    pub fn change_handle(&self, did: &str, handle: &str) -> Result<i64, AtmosphereError> {
        let handle = parse_handle(handle)?;
        let account = self.account(did)?;
        let mut account = lock(&account);
        {
            let mut handles = write(&self.shared.handles);
            if handles.get(&handle).is_some_and(|owner| owner != did) {
                return Err(AtmosphereError::HandleTaken(handle));
            }
            handles.remove(&account.handle);
            handles.insert(handle.clone(), did.to_owned());
        }
        account.handle = handle.clone();
        self.announce_handle(did, handle)
    }

    /// Puts `handle` in `did`'s PLC document and emits `#identity`; returns its seq.
    fn announce_handle(&self, did: &str, handle: String) -> Result<i64, AtmosphereError> {
        self.shared
            .plc
            .update(did, |entry| entry.handle = Some(handle.clone()))?;
        Ok(self.shared.relay.publish(RelayEvent::Identity {
            did: did.to_owned(),
            handle: Some(handle),
        }))
    }

    /// Announces `handle` in the PLC document only (no `resolveHandle` answer for it), then
    /// emits `#identity`: the handle cannot be verified both ways, so an AppView must show
    /// none for this DID.
    pub fn claim_unverifiable_handle(
        &self,
        did: &str,
        handle: &str,
    ) -> Result<i64, AtmosphereError> {
        let handle = parse_handle(handle)?;
        self.account(did)?;
        self.announce_handle(did, handle)
    }

    /// Rotates the signing key: new key in the PLC document, `#identity`, then an empty
    /// commit signed with the new key (as a PDS does after a rotation).
    pub fn rotate_key(&self, did: &str) -> Result<CommitInfo, AtmosphereError> {
        let key = self.shared.new_key()?;
        let multibase = key.public_key().multibase();
        {
            let account = self.account(did)?;
            let mut account = lock(&account);
            account.key = key;
            self.shared
                .plc
                .update(did, |entry| entry.signing_key_multibase = multibase)?;
            self.shared.relay.publish(RelayEvent::Identity {
                did: did.to_owned(),
                handle: Some(account.handle.clone()),
            });
        }
        self.apply_writes(did, &[])
    }

    /// Publishes a damaged `#commit` of `writes` (see [`Forgery`]) without changing the
    /// repo: a consumer must reject it, and the next genuine commit still chains from the
    /// last genuine one. Returns the event's seq.
    pub fn publish_forged_commit(
        &self,
        did: &str,
        writes: &[Write],
        forgery: Forgery,
    ) -> Result<i64, AtmosphereError> {
        let account = self.account(did)?;
        let account = lock(&account);
        let rev = self.shared.clock.next();
        let event = forge::forged_commit(&account.repo, writes, &account.key, rev, forgery)?;
        Ok(self.shared.relay.publish(RelayEvent::Commit(event)))
    }

    /// The `#atproto` signing key of an account (Multikey multibase).
    pub fn signing_key(&self, did: &str) -> Result<String, AtmosphereError> {
        Ok(lock(&*self.account(did)?).key.public_key().multibase())
    }

    /// Replaces the HTTP fault settings (latency, 429, down).
    pub fn set_faults(&self, faults: HttpFaults) {
        super::http::set_faults(&self.shared.faults, faults);
    }
}
