//! The whole devnet in one value: PLC directory, PDS, relay and the XMTP identity API
//! stand-in, wired together on loopback, with the controls end-to-end tests, benchmarks and
//! the `xmtp-appview devnet` demo drive (users, inbox links valid / forged / revoked, record
//! and account changes, filler traffic, a background live-traffic task).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::json;

use crate::atmosphere::locks::lock;
use crate::atmosphere::traffic::{self, NOISE_COLLECTIONS};
use crate::atmosphere::{
    AtmosphereError, CommitInfo, Pds, PdsConfig, PlcDirectory, Relay, RelayConfig,
    tid::{TidClock, datetime_now as now},
};
use crate::xmtp::{StandInConfig, XmtpStandIn};

mod lies;

/// The collection of the record the AppView indexes.
pub const INBOX_COLLECTION: &str = "org.xmtp.inbox";
/// Its only record key.
pub const INBOX_RKEY: &str = "self";

/// Devnet settings.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// Relay window and buffers.
    pub relay: RelayConfig,
    /// PDS key seed and behaviours.
    pub pds: PdsConfig,
    /// XMTP stand-in latency.
    pub xmtp: StandInConfig,
    /// Generated handles are `<name>.<handle_domain>`.
    pub handle_domain: String,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        DevnetConfig {
            relay: RelayConfig::default(),
            pds: PdsConfig::default(),
            xmtp: StandInConfig::default(),
            handle_domain: "devnet.test".to_owned(),
        }
    }
}

/// A devnet account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserHandle {
    /// `did:plc:...`.
    pub did: String,
    /// Its handle.
    pub handle: String,
}

/// Where the devnet listens: what `xmtp-appview run` is pointed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnetInfo {
    /// `ws://...` for `--relay`.
    pub relay_url: String,
    /// `http://...` of the relay, for `--discovery` (`listReposByCollection`).
    pub discovery_url: String,
    /// `http://...` for `--plc`.
    pub plc_url: String,
    /// `http://...` of the PDS (in every DID document).
    pub pds_url: String,
    /// `http://...` for `--xmtp-api`.
    pub xmtp_api_url: String,
    /// `http://...` for `--handle-resolver` (the PDS answers `resolveHandle`).
    pub handle_resolver_url: String,
}

impl DevnetInfo {
    /// A ready-to-paste `xmtp-appview run ...` command line.
    pub fn run_command_line(&self) -> String {
        format!(
            "xmtp-appview run --relay {} --plc {} --xmtp-api {} --handle-resolver {} \
             --discovery {} --allow-private-network --db ./data/devnet.sqlite",
            self.relay_url,
            self.plc_url,
            self.xmtp_api_url,
            self.handle_resolver_url,
            self.discovery_url
        )
    }
}

impl std::fmt::Display for DevnetInfo {
    /// One `name  url` line per service, then the command line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "relay (subscribeRepos)   {}", self.relay_url)?;
        writeln!(f, "relay (discovery)        {}", self.discovery_url)?;
        writeln!(f, "PLC directory            {}", self.plc_url)?;
        writeln!(f, "PDS                      {}", self.pds_url)?;
        writeln!(f, "handle resolver          {}", self.handle_resolver_url)?;
        writeln!(f, "XMTP identity API        {}", self.xmtp_api_url)?;
        write!(f, "\n{}", self.run_command_line())
    }
}

/// What [`Devnet::generate`] made, by expected verdict.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// Every user created.
    pub users: Vec<UserHandle>,
    /// DIDs whose link should verify.
    pub valid: Vec<String>,
    /// DIDs whose record is signed by a key that is no installation of the inbox.
    pub forged: Vec<String>,
    /// DIDs whose signing installation was revoked after linking.
    pub revoked: Vec<String>,
}

/// The inbox behind a DID's record, as the devnet made it.
#[derive(Debug, Clone)]
struct LinkKeys {
    inbox_id: String,
    /// Public key of the installation that signed (None for forged links).
    installation: Option<[u8; 32]>,
}

struct Inner {
    config: DevnetConfig,
    plc: PlcDirectory,
    pds: Pds,
    relay: Relay,
    xmtp: XmtpStandIn,
    users: Mutex<Vec<UserHandle>>,
    links: Mutex<HashMap<String, LinkKeys>>,
    rkeys: TidClock,
}

fn xmtp_error(error: impl std::fmt::Display) -> AtmosphereError {
    AtmosphereError::Xmtp(error.to_string())
}

/// The running devnet. Cloning shares it; servers stop when the last clone is dropped.
#[derive(Clone)]
pub struct Devnet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("info", &self.info())
            .finish()
    }
}

impl Devnet {
    /// Starts PLC, relay, PDS and the XMTP stand-in on `127.0.0.1:0`.
    pub async fn start(config: DevnetConfig) -> Result<Devnet, AtmosphereError> {
        let plc = PlcDirectory::start().await?;
        let relay = Relay::start(config.relay.clone()).await?;
        let pds = Pds::start(config.pds.clone(), plc.clone(), relay.clone()).await?;
        relay.set_upstream(Some(pds.url()));
        let xmtp = XmtpStandIn::start(config.xmtp.clone())
            .await
            .map_err(|source| AtmosphereError::Bind {
                name: "xmtp",
                source,
            })?;
        Ok(Devnet {
            inner: Arc::new(Inner {
                config,
                plc,
                pds,
                relay,
                xmtp,
                users: Mutex::new(Vec::new()),
                links: Mutex::new(HashMap::new()),
                rkeys: TidClock::new(2),
            }),
        })
    }

    /// The URLs to point `xmtp-appview` at.
    pub fn info(&self) -> DevnetInfo {
        DevnetInfo {
            relay_url: self.inner.relay.ws_url(),
            discovery_url: self.inner.relay.http_url(),
            plc_url: self.inner.plc.url(),
            pds_url: self.inner.pds.url(),
            xmtp_api_url: self.inner.xmtp.url().to_owned(),
            handle_resolver_url: self.inner.pds.url(),
        }
    }

    /// The PLC directory (rotate keys, move PDS, tombstone).
    pub fn plc(&self) -> &PlcDirectory {
        &self.inner.plc
    }

    /// The PDS (any record write, `#sync`, key rotation, HTTP faults).
    pub fn pds(&self) -> &Pds {
        &self.inner.pds
    }

    /// The relay (seq, window, stream faults).
    pub fn relay(&self) -> &Relay {
        &self.inner.relay
    }

    /// The XMTP identity API stand-in (inboxes, installations, faults).
    pub fn xmtp(&self) -> &XmtpStandIn {
        &self.inner.xmtp
    }

    /// Every user created through the devnet so far.
    pub fn users(&self) -> Vec<UserHandle> {
        lock(&self.inner.users).clone()
    }

    /// Creates an account; `handle` without a dot gets the devnet domain appended.
    pub fn create_user(&self, handle: &str) -> Result<UserHandle, AtmosphereError> {
        let handle = if handle.contains('.') {
            handle.to_owned()
        } else {
            format!("{handle}.{}", self.inner.config.handle_domain)
        };
        let account = self.inner.pds.create_account(&handle)?;
        let user = UserHandle {
            did: account.did,
            handle: account.handle,
        };
        lock(&self.inner.users).push(user.clone());
        Ok(user)
    }

    /// Writes `org.xmtp.inbox/self` naming `inbox_id` with `signature` (→ a firehose
    /// `#commit`) and remembers which installation, if any, signed it.
    fn write_link(
        &self,
        did: &str,
        inbox_id: String,
        signature: String,
        installation: Option<[u8; 32]>,
    ) -> Result<(String, String), AtmosphereError> {
        let record = json!({
            "$type": INBOX_COLLECTION,
            "id": inbox_id,
            "verificationSignature": signature,
            "createdAt": now(),
        });
        self.inner
            .pds
            .put_record(did, INBOX_COLLECTION, INBOX_RKEY, record)?;
        let keys = LinkKeys {
            inbox_id: inbox_id.clone(),
            installation,
        };
        lock(&self.inner.links).insert(did.to_owned(), keys);
        Ok((inbox_id, signature))
    }

    /// Creates an XMTP inbox with one installation in the stand-in, signs `did` with that
    /// installation's key and writes `org.xmtp.inbox/self` (→ a firehose `#commit`).
    /// Returns `(inbox_id, verificationSignature)`.
    pub fn link_inbox(&self, did: &str) -> Result<(String, String), AtmosphereError> {
        let inbox = self.inner.xmtp.create_inbox();
        let signature = self
            .inner
            .xmtp
            .sign_did(&inbox.inbox_id, did)
            .map_err(xmtp_error)?;
        let installation = inbox.installations.last().map(|key| key.public_key());
        self.write_link(did, inbox.inbox_id, signature, installation)
    }

    /// Writes a record naming a real inbox but signed by a key that is no installation of
    /// it: the AppView must mark it `invalid`. Returns `(inbox_id, verificationSignature)`.
    pub fn forge_link(&self, did: &str) -> Result<(String, String), AtmosphereError> {
        let inbox = self.inner.xmtp.create_inbox();
        let signature = ::xmtp::InstallationKey::generate().sign_did(did);
        self.write_link(did, inbox.inbox_id, signature, None)
    }

    /// Revokes, in the stand-in, the installation that signed `did`'s link (the record
    /// stays; re-verification must turn the link `invalid`). Returns the inbox id.
    pub fn revoke_link_installation(&self, did: &str) -> Result<String, AtmosphereError> {
        let keys = lock(&self.inner.links)
            .get(did)
            .cloned()
            .ok_or_else(|| AtmosphereError::RecordNotFound(format!("no devnet link for {did}")))?;
        let installation = keys.installation.ok_or_else(|| {
            AtmosphereError::Xmtp(format!("the link of {did} is forged: no installation"))
        })?;
        self.inner
            .xmtp
            .revoke_installation(&keys.inbox_id, &installation)
            .map_err(xmtp_error)?;
        Ok(keys.inbox_id)
    }

    /// The inbox id the devnet linked `did` to (valid, forged or revoked).
    pub fn linked_inbox(&self, did: &str) -> Option<String> {
        lock(&self.inner.links)
            .get(did)
            .map(|keys| keys.inbox_id.clone())
    }

    /// Writes (creates or replaces) any record.
    pub fn update_record(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
        value: serde_json::Value,
    ) -> Result<CommitInfo, AtmosphereError> {
        self.inner.pds.put_record(did, collection, rkey, value)
    }

    /// Deletes a record (→ `#commit` with a delete op).
    pub fn delete_record(
        &self,
        did: &str,
        collection: &str,
        rkey: &str,
    ) -> Result<CommitInfo, AtmosphereError> {
        self.inner.pds.delete_record(did, collection, rkey)
    }

    /// Sets the hosting status (→ `#account`): `(true, None)` reactivates,
    /// `(false, Some("takendown" | "suspended" | "deactivated" | "deleted"))` deactivates.
    pub fn set_account_status(
        &self,
        did: &str,
        active: bool,
        status: Option<&str>,
    ) -> Result<i64, AtmosphereError> {
        let seq = self.inner.pds.set_account_status(did, active, status)?;
        if status == Some("deleted") {
            lock(&self.inner.users).retain(|user| user.did != did);
            lock(&self.inner.links).remove(did);
        }
        Ok(seq)
    }

    /// Changes the handle (PLC document, `resolveHandle`, `#identity`).
    pub fn change_handle(&self, did: &str, handle: &str) -> Result<i64, AtmosphereError> {
        let seq = self.inner.pds.change_handle(did, handle)?;
        for user in lock(&self.inner.users).iter_mut() {
            if user.did == did {
                user.handle = handle.to_owned();
            }
        }
        Ok(seq)
    }

    /// `n` filler commits (posts, likes, follows) from random existing users.
    pub fn emit_noise(&self, n: usize) -> Result<Vec<CommitInfo>, AtmosphereError> {
        let dids: Vec<String> = self.users().into_iter().map(|user| user.did).collect();
        traffic::emit_noise(&self.inner.pds, &dids, n, &self.inner.rkeys)
    }

    /// The demo world: `users` accounts with a few filler records each, and `links` inbox
    /// links among them: of every seven, five valid, one forged and one revoked after linking.
    pub fn generate(&self, users: usize, links: usize) -> Result<Generated, AtmosphereError> {
        let start = self.users().len();
        let mut generated = Generated::default();
        for i in 0..users {
            generated
                .users
                .push(self.create_user(&format!("user{:05}", start + i))?);
        }
        let dids: Vec<String> = generated.users.iter().map(|u| u.did.clone()).collect();
        traffic::emit_noise(&self.inner.pds, &dids, users * 3, &self.inner.rkeys)?;
        for (i, user) in generated.users.iter().take(links).enumerate() {
            // A cycle of seven: five valid, one forged, one revoked, so that even a small
            // demo shows every verdict.
            match i % 7 {
                3 => {
                    self.forge_link(&user.did)?;
                    generated.forged.push(user.did.clone());
                }
                6 => {
                    self.link_inbox(&user.did)?;
                    self.revoke_link_installation(&user.did)?;
                    generated.revoked.push(user.did.clone());
                }
                _ => {
                    self.link_inbox(&user.did)?;
                    generated.valid.push(user.did.clone());
                }
            }
        }
        Ok(generated)
    }

    /// Starts background traffic: one action every `every` (mostly filler commits, now and
    /// then a new user, a new link, a re-link or a handle change). Stops when the returned
    /// handle is dropped.
    pub fn start_live_traffic(&self, every: Duration) -> LiveTraffic {
        let devnet = self.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every.max(Duration::from_millis(1)));
            let mut tick: u64 = 0;
            loop {
                ticker.tick().await;
                tick += 1;
                if let Err(error) = devnet.live_step(tick) {
                    tracing::debug!(%error, "devnet live traffic step failed");
                }
            }
        });
        LiveTraffic { task }
    }

    fn live_step(&self, tick: u64) -> Result<(), AtmosphereError> {
        let users = self.users();
        if users.is_empty() || tick.is_multiple_of(40) {
            self.create_user(&format!("live{tick:06}"))?;
            return Ok(());
        }
        let user = &users[rand::rng().random_range(0..users.len())];
        match tick % 40 {
            7 => {
                self.link_inbox(&user.did)?;
            }
            19 if self.linked_inbox(&user.did).is_none() => {
                self.forge_link(&user.did)?;
            }
            29 => {
                let base = user.handle.split('.').next().unwrap_or("user");
                let handle = format!("{base}-{tick}.{}", self.inner.config.handle_domain);
                self.change_handle(&user.did, &handle)?;
            }
            _ => {
                let collection = NOISE_COLLECTIONS[(tick % 3) as usize];
                let other = &users[rand::rng().random_range(0..users.len())].did;
                let (pds, rkeys) = (&self.inner.pds, &self.inner.rkeys);
                traffic::write_noise(pds, rkeys, collection, &user.did, other, tick)?;
            }
        }
        Ok(())
    }
}

/// The background traffic task; stops when dropped.
#[derive(Debug)]
pub struct LiveTraffic {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LiveTraffic {
    fn drop(&mut self) {
        self.task.abort();
    }
}
