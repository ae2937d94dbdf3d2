//! The stand-in's in-memory state: inbox logs (a global sequence like xmtp-node-go), the
//! keys of devnet-created inboxes, the simulated chain's smart-contract wallets, fault mode
//! and call counters.

use super::FaultMode;
use prost::Message as _;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::xmtp::{self as builder, ScwWallet, Wallet};
use xmtp::InstallationKey;
use xmtp::proto::api as pb;
use xmtp::proto::associations::IdentityUpdate;
use xmtp::signature::{ScwRequest, ScwResults, ScwVerdict};

/// A devnet inbox: its keys and current installations.
#[derive(Debug, Clone)]
pub struct DevInbox {
    /// The inbox id.
    pub inbox_id: String,
    /// The wallet (creator and recovery identifier).
    pub wallet: Wallet,
    /// Current installations, oldest first.
    pub installations: Vec<InstallationKey>,
}

impl DevInbox {
    /// The `verificationSignature` of `did` by the newest installation.
    pub fn sign_did(&self, did: &str) -> Option<String> {
        self.installations.last().map(|k| k.sign_did(did))
    }
}

/// A control call that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    /// No such inbox (or not created by the devnet).
    #[error("unknown inbox {0}")]
    UnknownInbox(String),
    /// The inbox has no installation left.
    #[error("inbox {0} has no installation")]
    NoInstallation(String),
    /// The update does not replay on the log.
    #[error("update rejected: {0}")]
    Rejected(String),
}

#[derive(Debug, Default)]
struct Inbox {
    log: Vec<(u64, u64, Vec<u8>)>,
    keys: Option<DevInbox>,
}

#[derive(Debug)]
pub(super) struct Shared {
    inboxes: Mutex<HashMap<String, Inbox>>,
    by_address: Mutex<HashMap<String, String>>,
    /// Simulated chain: `eip155:<chain>:<contract>` → owner address.
    contracts: Mutex<HashMap<String, String>>,
    next_sequence: AtomicU64,
    mode: Mutex<FaultMode>,
    latency: Mutex<Duration>,
    calls: Mutex<HashMap<String, u64>>,
    /// d14n hook: every appended entry `(inbox id, sequence id)`, for subscriptions.
    events: tokio::sync::broadcast::Sender<(String, u64)>,
    /// d14n hook: the cutover (unix ns, 0 = none); v3 reads hide entries appended after it.
    cutover_ns: AtomicU64,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Shared {
    pub(super) fn new(latency: Duration) -> Self {
        Self {
            inboxes: Mutex::new(HashMap::new()),
            by_address: Mutex::new(HashMap::new()),
            contracts: Mutex::new(HashMap::new()),
            next_sequence: AtomicU64::new(1),
            mode: Mutex::new(FaultMode::Normal),
            latency: Mutex::new(latency),
            calls: Mutex::new(HashMap::new()),
            events: tokio::sync::broadcast::channel(4096).0,
            cutover_ns: AtomicU64::new(0),
        }
    }

    /// d14n hook: appended entries from now on.
    pub(super) fn events(&self) -> tokio::sync::broadcast::Receiver<(String, u64)> {
        self.events.subscribe()
    }

    /// d14n hook: `(sequence id, timestamp, update)` of the inbox after `after`.
    pub(super) fn log_after(&self, inbox_id: &str, after: u64) -> Vec<(u64, u64, Vec<u8>)> {
        self.lock_inboxes()
            .get(inbox_id)
            .map(|i| i.log.iter().filter(|e| e.0 > after).cloned().collect())
            .unwrap_or_default()
    }

    /// d14n hook: the cutover (0 = none).
    pub(super) fn cutover_ns(&self) -> u64 {
        self.cutover_ns.load(Ordering::SeqCst)
    }

    /// d14n hook: sets the cutover (0 = none).
    pub(super) fn set_cutover_ns(&self, ns: u64) {
        self.cutover_ns.store(ns, Ordering::SeqCst);
    }

    fn lock_inboxes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Inbox>> {
        self.inboxes.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn mode(&self) -> FaultMode {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn set_mode(&self, mode: FaultMode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    pub(super) fn latency(&self) -> Duration {
        *self.latency.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn set_latency(&self, latency: Duration) {
        *self.latency.lock().unwrap_or_else(|e| e.into_inner()) = latency;
    }

    pub(super) fn count_call(&self, method: &str) {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(method.to_string())
            .or_default() += 1;
    }

    pub(super) fn calls(&self, method: &str) -> u64 {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    /// Appends without validation; returns the sequence id.
    pub(super) fn append(&self, inbox_id: &str, update: IdentityUpdate) -> u64 {
        self.append_raw(inbox_id, update.encode_to_vec())
    }

    /// Appends bytes as they are; returns the sequence id.
    pub(super) fn append_raw(&self, inbox_id: &str, update: Vec<u8>) -> u64 {
        let seq = self.next_sequence.fetch_add(1, Ordering::SeqCst);
        let mut inboxes = self.lock_inboxes();
        inboxes
            .entry(inbox_id.to_string())
            .or_default()
            .log
            .push((seq, now_ns(), update));
        drop(inboxes);
        let _ = self.events.send((inbox_id.to_string(), seq));
        seq
    }

    /// The simulated chain's answer: valid iff the account is a registered contract and
    /// its owner signed the hash. (The chain-RPC fault is applied by the service.)
    pub(super) fn check_scw(&self, account_id: &str, hash: &[u8], signature: &[u8]) -> bool {
        let owner = self
            .contracts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&account_id.to_ascii_lowercase())
            .cloned();
        let (Some(owner), Ok(hash)) = (owner, <[u8; 32]>::try_from(hash)) else {
            return false;
        };
        xmtp::signature::recover_hash_signer(&hash, signature).is_ok_and(|a| a == owner)
    }

    fn scw_results(&self, raw: &[Vec<u8>]) -> ScwResults {
        let decoded: Vec<_> = raw
            .iter()
            .filter_map(|b| xmtp::model::DecodedUpdate::from_bytes(b).ok())
            .collect();
        xmtp::replay::scw_requests(&decoded)
            .into_iter()
            .map(|r: ScwRequest| {
                let ok = self.check_scw(&r.account_id, &r.hash, &r.signature);
                (r, ScwVerdict::from(ok))
            })
            .collect()
    }

    /// Validates `update` by replaying the whole log plus it (as xmtp-node-go does through
    /// libxmtp's validation service), then appends.
    pub(super) fn publish(&self, update: IdentityUpdate) -> Result<u64, StandInError> {
        let inbox_id = update.inbox_id.clone();
        let mut raw: Vec<Vec<u8>> = self
            .lock_inboxes()
            .get(&inbox_id)
            .map(|i| i.log.iter().map(|(_, _, u)| u.clone()).collect())
            .unwrap_or_default();
        raw.push(update.encode_to_vec());
        xmtp::replay::replay_bytes(None, &raw, &self.scw_results(&raw))
            .map_err(|e| StandInError::Rejected(e.to_string()))?;
        Ok(self.append(&inbox_id, update))
    }

    pub(super) fn create_inbox(
        &self,
        wallet: Wallet,
        nonce: u64,
        installation: InstallationKey,
    ) -> DevInbox {
        let update = builder::create_inbox(&wallet, nonce, &installation, now_ns());
        let inbox_id = update.inbox_id.clone();
        self.append(&inbox_id, update);
        let dev = DevInbox {
            inbox_id: inbox_id.clone(),
            wallet: wallet.clone(),
            installations: vec![installation],
        };
        self.lock_inboxes()
            .entry(inbox_id.clone())
            .or_default()
            .keys = Some(dev.clone());
        self.by_address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(wallet.address(), inbox_id);
        dev
    }

    pub(super) fn create_scw_inbox(
        &self,
        scw: ScwWallet,
        installation: InstallationKey,
    ) -> DevInbox {
        self.contracts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scw.account_id(), scw.owner.address());
        let update = builder::create_inbox_scw(&scw, 1, &installation, now_ns());
        let inbox_id = update.inbox_id.clone();
        self.append(&inbox_id, update);
        let dev = DevInbox {
            inbox_id: inbox_id.clone(),
            wallet: scw.owner.clone(),
            installations: vec![installation],
        };
        self.lock_inboxes()
            .entry(inbox_id.clone())
            .or_default()
            .keys = Some(dev.clone());
        self.by_address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scw.address.clone(), inbox_id);
        dev
    }

    pub(super) fn inbox(&self, inbox_id: &str) -> Option<DevInbox> {
        self.lock_inboxes()
            .get(inbox_id)
            .and_then(|i| i.keys.clone())
    }

    fn keys(&self, inbox_id: &str) -> Result<DevInbox, StandInError> {
        self.inbox(inbox_id)
            .ok_or_else(|| StandInError::UnknownInbox(inbox_id.to_string()))
    }

    pub(super) fn add_installation(
        &self,
        inbox_id: &str,
        installation: InstallationKey,
    ) -> Result<InstallationKey, StandInError> {
        let keys = self.keys(inbox_id)?;
        let update = builder::add_installation(inbox_id, &keys.wallet, &installation, now_ns());
        self.publish(update)?;
        if let Some(k) = self
            .lock_inboxes()
            .get_mut(inbox_id)
            .and_then(|i| i.keys.as_mut())
        {
            k.installations.push(installation.clone());
        }
        Ok(installation)
    }

    pub(super) fn revoke_installation(
        &self,
        inbox_id: &str,
        key: &[u8],
    ) -> Result<(), StandInError> {
        let keys = self.keys(inbox_id)?;
        let update = builder::revoke_installation(inbox_id, &keys.wallet, key, now_ns());
        self.publish(update)?;
        if let Some(k) = self
            .lock_inboxes()
            .get_mut(inbox_id)
            .and_then(|i| i.keys.as_mut())
        {
            k.installations.retain(|i| i.public_key().as_slice() != key);
        }
        Ok(())
    }

    pub(super) fn sign_did(&self, inbox_id: &str, did: &str) -> Result<String, StandInError> {
        self.keys(inbox_id)?
            .sign_did(did)
            .ok_or_else(|| StandInError::NoInstallation(inbox_id.to_string()))
    }

    pub(super) fn get_identity_updates(
        &self,
        req: pb::GetIdentityUpdatesRequest,
    ) -> pb::RawGetIdentityUpdatesResponse {
        use pb::get_identity_updates_response::{RawIdentityUpdateLog, RawResponse};
        let inboxes = self.lock_inboxes();
        // After the cutover new updates exist only on d14n.
        let cutover = match self.cutover_ns() {
            0 => u64::MAX,
            c => c,
        };
        let responses = req
            .requests
            .into_iter()
            .map(|r| {
                let updates = inboxes
                    .get(&r.inbox_id)
                    .map(|i| {
                        i.log
                            .iter()
                            .filter(|(seq, ts, _)| *seq > r.sequence_id && *ts < cutover)
                            .map(|(seq, ts, u)| RawIdentityUpdateLog {
                                sequence_id: *seq,
                                server_timestamp_ns: *ts,
                                update: u.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                RawResponse {
                    inbox_id: r.inbox_id,
                    updates,
                }
            })
            .collect();
        pb::RawGetIdentityUpdatesResponse { responses }
    }

    /// `VerifySmartContractWalletSignatures` on the simulated chain; with `rpc_down`, every
    /// answer carries an `error` instead of a verdict.
    pub(super) fn verify_scw(
        &self,
        req: pb::VerifySmartContractWalletSignaturesRequest,
        rpc_down: bool,
    ) -> pb::VerifySmartContractWalletSignaturesResponse {
        use pb::verify_smart_contract_wallet_signatures_response::ValidationResponse;
        let responses = req
            .signatures
            .iter()
            .map(|sig| {
                if rpc_down {
                    return ValidationResponse {
                        is_valid: false,
                        block_number: None,
                        error: Some("devnet: chain RPC unavailable".into()),
                    };
                }
                ValidationResponse {
                    is_valid: self.check_scw(&sig.account_id, &sig.hash, &sig.signature),
                    block_number: sig.block_number,
                    error: None,
                }
            })
            .collect();
        pb::VerifySmartContractWalletSignaturesResponse { responses }
    }

    pub(super) fn get_inbox_ids(&self, req: pb::GetInboxIdsRequest) -> pb::GetInboxIdsResponse {
        let map = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        pb::GetInboxIdsResponse {
            responses: req
                .requests
                .into_iter()
                .map(|r| pb::get_inbox_ids_response::Response {
                    inbox_id: map.get(&r.identifier.to_ascii_lowercase()).cloned(),
                    identifier: r.identifier,
                    identifier_kind: r.identifier_kind,
                })
                .collect(),
        }
    }
}
