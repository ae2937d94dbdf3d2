//! `--xmtp-backend auto`: v3 until the cutover announced by `FetchD14nCutover`, d14n
//! from then on. The switch is one atomic comparison per call; the cached inbox positions
//! stay valid across it because the d14n inbox log (originator 1) continues the v3
//! sequence ids (libxmtp relies on the same: it sends the v3 `sequence_id` as the d14n
//! cursor).

use crate::api::{ApiError, BoxFuture, IdentityApi, InboxLog};
use crate::signature::{ScwRequest, ScwVerdict};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Which backend answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The v3 `IdentityApi`.
    V3,
    /// xmtpd nodes.
    D14n,
}

impl Backend {
    /// `v3` / `d14n`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::V3 => "v3",
            Backend::D14n => "d14n",
        }
    }
}

/// Switches from v3 to d14n when the cutover passes.
pub struct AutoIdentityApi {
    v3: Arc<dyn IdentityApi>,
    d14n: Arc<dyn IdentityApi>,
    /// Cutover (unix ns); `u64::MAX` while none is known.
    cutover_ns: AtomicU64,
    switched: AtomicBool,
}

impl std::fmt::Debug for AutoIdentityApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoIdentityApi")
            .field("cutover_ns", &self.cutover_ns.load(Ordering::Relaxed))
            .finish()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl AutoIdentityApi {
    /// Starts on v3 (no cutover known).
    pub fn new(v3: Arc<dyn IdentityApi>, d14n: Arc<dyn IdentityApi>) -> Self {
        Self {
            v3,
            d14n,
            cutover_ns: AtomicU64::new(u64::MAX),
            switched: AtomicBool::new(false),
        }
    }

    /// Records the cutover `FetchD14nCutover` answered (`None`: not scheduled).
    pub fn set_cutover(&self, cutover_ns: Option<u64>) {
        let v = cutover_ns.unwrap_or(u64::MAX);
        if self.cutover_ns.swap(v, Ordering::SeqCst) != v {
            tracing::info!(cutover_ns = ?cutover_ns, "XMTP d14n cutover time learned");
        }
    }

    /// The backend answering now. Once switched it stays on d14n (writes to v3 are gone
    /// after the cutover, so nothing new can appear there).
    pub fn active(&self) -> Backend {
        if self.switched.load(Ordering::Relaxed) {
            return Backend::D14n;
        }
        let cutover = self.cutover_ns.load(Ordering::SeqCst);
        if now_ns() >= cutover {
            if !self.switched.swap(true, Ordering::SeqCst) {
                tracing::warn!(
                    cutover_ns = cutover,
                    "XMTP D14N CUTOVER PASSED: identity reads switch from the v3 IdentityApi to d14n (xmtpd) now"
                );
                metrics::counter!("xmtp_backend_switches_total").increment(1);
            }
            return Backend::D14n;
        }
        Backend::V3
    }

    fn api(&self) -> &dyn IdentityApi {
        match self.active() {
            Backend::V3 => self.v3.as_ref(),
            Backend::D14n => self.d14n.as_ref(),
        }
    }
}

impl IdentityApi for AutoIdentityApi {
    fn get_identity_updates<'a>(
        &'a self,
        requests: &'a [(String, u64)],
    ) -> BoxFuture<'a, Result<Vec<InboxLog>, ApiError>> {
        self.api().get_identity_updates(requests)
    }

    fn verify_smart_contract_wallet_signatures<'a>(
        &'a self,
        requests: &'a [ScwRequest],
    ) -> BoxFuture<'a, Result<Vec<ScwVerdict>, ApiError>> {
        self.api().verify_smart_contract_wallet_signatures(requests)
    }
}
