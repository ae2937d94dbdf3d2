//! The XMTP identity API stand-in: a real gRPC server (tonic, HTTP/2, plaintext) on
//! `127.0.0.1:0` implementing `xmtp.identity.api.v1.IdentityApi` with the same hand-written
//! protobufs as the client, so tests, demos and benchmarks exercise the production path.
//!
//! It holds inbox logs built and signed exactly as libxmtp builds them
//! ([`testkit::xmtp`]: the wallet signs EIP-191 over the identity-update text, installations
//! are Ed25519 keys), validates published updates by replaying them, and offers controls:
//! create inboxes, add and revoke installations, sign DIDs, and faults (down, slow, garbage,
//! rate-limited, a chain RPC that fails smart-contract-wallet checks).
//!
//! Smart-contract wallets live on a simulated chain: each registered contract
//! ([`XmtpStandIn::create_scw_inbox`]) accepts its owner's ECDSA signature over the hash,
//! as an ERC-1271 `isValidSignature` would; any other signature or account is invalid.

mod d14n;
mod service;
mod store;

pub use d14n::D14nStandIn;

pub use store::{DevInbox, StandInError};

use service::IdentityService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::Shared;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use xmtp::InstallationKey;
use xmtp::proto::associations::IdentityUpdate;

/// How the stand-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultMode {
    /// Correct answers.
    #[default]
    Normal,
    /// Every call fails with `UNAVAILABLE`.
    Down,
    /// Every call fails with `RESOURCE_EXHAUSTED`.
    RateLimited,
    /// Every call answers bytes that do not decode as the response message.
    Garbage,
    /// `VerifySmartContractWalletSignatures` answers every signature with `is_valid: false`
    /// and an `error`, as a node whose chain RPC fails does; other calls are normal.
    ScwError,
}

/// Stand-in settings.
#[derive(Debug, Clone, Default)]
pub struct StandInConfig {
    /// Added to every answer (e.g. 50 ms to look like the real network).
    pub latency: Duration,
}

/// A running stand-in. Dropping it stops the server.
pub struct XmtpStandIn {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for XmtpStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmtpStandIn")
            .field("url", &self.url)
            .finish()
    }
}

impl XmtpStandIn {
    /// Binds `127.0.0.1:0` and serves.
    pub async fn start(cfg: StandInConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(cfg.latency));
        let svc = IdentityService::new(shared.clone());
        let migration = d14n::MigrationService::new(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(svc)
                .add_service(migration)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "XMTP stand-in stopped with an error");
            }
        });
        Ok(Self {
            url: format!("http://{addr}"),
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:<port>`: pass it as `--xmtp-api`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A new inbox (random wallet, nonce 1, one installation), like `Client.create`.
    pub fn create_inbox(&self) -> DevInbox {
        self.shared.create_inbox(
            testkit::xmtp::Wallet::generate(),
            1,
            InstallationKey::generate(),
        )
    }

    /// A new inbox created by a smart-contract wallet on the simulated chain (chain id 1,
    /// random owner), with one installation. Its wallet signatures are `erc_6492`, checked
    /// through `VerifySmartContractWalletSignatures`. (The add/revoke controls sign with
    /// an EOA, so they do not apply to it.)
    pub fn create_scw_inbox(&self) -> (DevInbox, testkit::xmtp::ScwWallet) {
        let scw = testkit::xmtp::ScwWallet::generate(1);
        let inbox = self
            .shared
            .create_scw_inbox(scw.clone(), InstallationKey::generate());
        (inbox, scw)
    }

    /// The inbox's wallet adds a new installation; returns its key.
    pub fn add_installation(&self, inbox_id: &str) -> Result<InstallationKey, StandInError> {
        self.shared
            .add_installation(inbox_id, InstallationKey::generate())
    }

    /// The inbox's wallet adds a given installation key.
    pub fn add_installation_key(
        &self,
        inbox_id: &str,
        installation: InstallationKey,
    ) -> Result<InstallationKey, StandInError> {
        self.shared.add_installation(inbox_id, installation)
    }

    /// The recovery wallet revokes an installation.
    pub fn revoke_installation(
        &self,
        inbox_id: &str,
        installation_key: &[u8],
    ) -> Result<(), StandInError> {
        self.shared.revoke_installation(inbox_id, installation_key)
    }

    /// The `verificationSignature` of `did` by the inbox's newest current installation.
    pub fn sign_did(&self, inbox_id: &str, did: &str) -> Result<String, StandInError> {
        self.shared.sign_did(inbox_id, did)
    }

    /// Appends an update without validating it (crafted/broken logs in tests).
    pub fn append_unchecked(&self, inbox_id: &str, update: IdentityUpdate) {
        self.shared.append(inbox_id, update);
    }

    /// Appends raw bytes as a log entry without decoding them (an update kind this
    /// codebase does not know, or junk).
    pub fn append_raw(&self, inbox_id: &str, update: Vec<u8>) {
        self.shared.append_raw(inbox_id, update);
    }

    /// Current inbox snapshot.
    pub fn inbox(&self, inbox_id: &str) -> Option<DevInbox> {
        self.shared.inbox(inbox_id)
    }

    /// Switches the fault mode.
    pub fn set_mode(&self, mode: FaultMode) {
        self.shared.set_mode(mode);
    }

    /// Go down (`UNAVAILABLE`) or come back.
    pub fn set_down(&self, down: bool) {
        self.set_mode(if down {
            FaultMode::Down
        } else {
            FaultMode::Normal
        });
    }

    /// Answer latency.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.set_latency(latency);
    }

    /// gRPC calls received so far, by method name.
    pub fn calls(&self, method: &str) -> u64 {
        self.shared.calls(method)
    }

    /// Starts a d14n node and gateway serving this stand-in's inboxes.
    pub async fn start_d14n(&self) -> std::io::Result<D14nStandIn> {
        D14nStandIn::start(self.shared.clone()).await
    }

    /// Sets the d14n cutover `FetchD14nCutover` answers (unix ns; `None`: not scheduled).
    /// Updates appended at or after it are no longer served by v3 reads.
    pub fn set_d14n_cutover(&self, cutover_ns: Option<u64>) {
        self.shared.set_cutover_ns(cutover_ns.unwrap_or(0));
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for XmtpStandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod d14n_tests;
#[cfg(test)]
mod tests;
