//! Verdicts and their reasons, and the pure check of one link against an inbox outcome:
//! valid iff `verificationSignature` verifies over the DID against a *current*
//! installation (Ed25519ph, `PUBLIC SIGNATURE CONTEXT`, Node-compatible base64).

use ed25519_dalek::VerifyingKey;
use store::Status;
use xmtp::installation::{PUBLIC_SIGNATURE_CONTEXT, verify_with_key};

/// Why a link is not verified. Only evidence from a successful XMTP answer (or the record
/// itself) ever produces one; transport faults never do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No current installation's signature matches.
    SignatureMismatch,
    /// The inbox has no identity updates at all.
    InboxNotFound,
    /// The inbox's log does not replay (the SDK's `fetchInboxStates` throws).
    InboxStateInvalid(String),
    /// `verificationSignature` does not decode to 64 bytes.
    MalformedSignature,
    /// The record's inbox id is not 64 lower-case hex characters.
    MalformedInboxId,
}

impl Reason {
    /// The stable reason code stored with the link.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::SignatureMismatch => "signature_mismatch",
            Reason::InboxNotFound => "inbox_not_found",
            Reason::InboxStateInvalid(_) => "inbox_state_invalid",
            Reason::MalformedSignature => "malformed_signature",
            Reason::MalformedInboxId => "malformed_inbox_id",
        }
    }
}

/// The outcome of checking one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `Verified` or `Invalid`.
    pub status: Status,
    /// Why not verified.
    pub reason: Option<Reason>,
    /// Hex of the installation key that verified.
    pub installation_key: Option<String>,
}

impl Verdict {
    /// A verified verdict.
    pub fn verified(key: &[u8]) -> Self {
        Self {
            status: Status::Verified,
            reason: None,
            installation_key: Some(hex::encode(key)),
        }
    }

    /// An invalid verdict.
    pub fn invalid(reason: Reason) -> Self {
        Self {
            status: Status::Invalid,
            reason: Some(reason),
            installation_key: None,
        }
    }

    /// Whether verified.
    pub fn is_verified(&self) -> bool {
        self.status == Status::Verified
    }

    /// The store change for this verdict.
    pub fn to_change(&self, did: &str, record_cid: &str) -> store::Change {
        store::Change::Verdict {
            did: did.to_string(),
            record_cid: record_cid.to_string(),
            status: self.status,
            reason: self.reason.as_ref().map(|r| r.code().to_string()),
            installation_key: self.installation_key.clone(),
        }
    }
}

/// What replaying an inbox's log gave.
#[derive(Debug, Clone)]
pub enum InboxOutcome {
    /// The current installations, keys decompressed once.
    Valid(Vec<(Vec<u8>, VerifyingKey)>),
    /// No updates.
    NotFound,
    /// The log fails.
    Invalid(String),
}

impl InboxOutcome {
    /// From a replayed state.
    pub fn from_state(state: &xmtp::InboxState) -> Self {
        InboxOutcome::Valid(
            state
                .installations()
                .into_iter()
                .filter_map(|i| {
                    let pk: [u8; 32] = i.key.as_slice().try_into().ok()?;
                    let vk = VerifyingKey::from_bytes(&pk).ok()?;
                    Some((i.key, vk))
                })
                .collect(),
        )
    }
}

/// Checks the record's own fields before any network call.
pub fn precheck(inbox_id: &str, verification_signature: &str) -> Result<[u8; 64], Reason> {
    if !xmtp::inbox_id::is_valid_inbox_id(inbox_id) {
        return Err(Reason::MalformedInboxId);
    }
    let sig = xmtp::base64::node_base64_decode(verification_signature);
    sig.try_into().map_err(|_| Reason::MalformedSignature)
}

/// The verdict of one link given its inbox's outcome.
pub fn evaluate(
    did: &str,
    inbox_id: &str,
    verification_signature: &str,
    outcome: &InboxOutcome,
) -> Verdict {
    let sig = match precheck(inbox_id, verification_signature) {
        Ok(sig) => sig,
        Err(reason) => return Verdict::invalid(reason),
    };
    match outcome {
        InboxOutcome::NotFound => Verdict::invalid(Reason::InboxNotFound),
        InboxOutcome::Invalid(why) => Verdict::invalid(Reason::InboxStateInvalid(why.clone())),
        InboxOutcome::Valid(keys) => keys
            .iter()
            .find(|(_, vk)| verify_with_key(did.as_bytes(), &sig, vk, PUBLIC_SIGNATURE_CONTEXT))
            .map(|(k, _)| Verdict::verified(k))
            .unwrap_or_else(|| Verdict::invalid(Reason::SignatureMismatch)),
    }
}
