//! Verdicts and their reasons, and the pure check of one link against an inbox outcome:
//! valid iff `verificationSignature` verifies over the DID against a *current*
//! installation (Ed25519ph, `PUBLIC SIGNATURE CONTEXT`, Node-compatible base64) of a state
//! whose inbox ID is the record's.
//!
//! Only evidence makes a link `invalid`. When the XMTP side could not be evaluated (a
//! transport fault, a smart-contract-wallet check the node could not run, an update this
//! verifier cannot decode or does not know), the link is `pending` with a reason and is
//! retried.

use ed25519_dalek::VerifyingKey;
use store::{ReasonCode, Status};
use syntax::{Cid, Did};
use xmtp::installation::{PUBLIC_SIGNATURE_CONTEXT, verify_with_key};
use xmtp::{ReplayError, ReplayErrorKind};

/// Why a link is not verified: evidence ([`Reason::is_evidence`], the link is `invalid`)
/// or why it could not be evaluated (the link stays `pending`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No current installation's signature matches.
    SignatureMismatch,
    /// The signature is by an installation the inbox has revoked.
    InstallationRevoked,
    /// The inbox has no identity updates at all.
    InboxNotFound,
    /// The inbox's log does not replay (the SDK's `fetchInboxStates` throws).
    InboxStateInvalid(String),
    /// The log served for the record's inbox replays to another inbox.
    InboxIdMismatch {
        /// The inbox ID the replayed state has.
        replayed: String,
    },
    /// `verificationSignature` does not decode to 64 bytes.
    MalformedSignature,
    /// The record's inbox id is not 64 lower-case hex characters.
    MalformedInboxId,
    /// Pending: the identity API could not be reached or failed.
    XmtpUnavailable,
    /// Pending: the network could not check a smart-contract-wallet signature.
    ScwUnchecked(String),
    /// Pending: an update the API returned does not decode or has a kind this verifier
    /// does not know (e.g. one XMTP added later).
    UpdateUnsupported(String),
}

impl Reason {
    /// The stable reason code stored with the link (`links.reason`).
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Reason::SignatureMismatch => ReasonCode::SignatureMismatch,
            Reason::InstallationRevoked => ReasonCode::InstallationRevoked,
            Reason::InboxNotFound => ReasonCode::InboxNotFound,
            Reason::InboxStateInvalid(_) => ReasonCode::InboxStateInvalid,
            Reason::InboxIdMismatch { .. } => ReasonCode::InboxIdMismatch,
            Reason::MalformedSignature => ReasonCode::MalformedSignature,
            Reason::MalformedInboxId => ReasonCode::MalformedInboxId,
            Reason::XmtpUnavailable => ReasonCode::XmtpUnavailable,
            Reason::ScwUnchecked(_) => ReasonCode::ScwUnchecked,
            Reason::UpdateUnsupported(_) => ReasonCode::IdentityUpdateUnsupported,
        }
    }

    /// The string form of [`Reason::reason_code`].
    pub fn code(&self) -> &'static str {
        self.reason_code().as_str()
    }

    /// Whether this reason is evidence (`invalid`) rather than "could not evaluate"
    /// (`pending`, retried).
    pub fn is_evidence(&self) -> bool {
        !matches!(
            self,
            Reason::XmtpUnavailable | Reason::ScwUnchecked(_) | Reason::UpdateUnsupported(_)
        )
    }

    /// The reason for a replay failure.
    pub fn of_replay(e: &ReplayError) -> Self {
        match e.kind() {
            ReplayErrorKind::ScwUnchecked => Reason::ScwUnchecked(e.to_string()),
            k if !e.is_evidence() => Reason::UpdateUnsupported(format!("{}: {e}", k.code())),
            _ => Reason::InboxStateInvalid(e.to_string()),
        }
    }
}

/// The outcome of checking one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `Verified`, `Invalid`, or `Pending` when it could not be evaluated.
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

    /// `invalid` for an evidence reason, `pending` for a could-not-evaluate one.
    pub fn not_verified(reason: Reason) -> Self {
        Self {
            status: if reason.is_evidence() {
                Status::Invalid
            } else {
                Status::Pending
            },
            reason: Some(reason),
            installation_key: None,
        }
    }

    /// Whether verified.
    pub fn is_verified(&self) -> bool {
        self.status == Status::Verified
    }

    /// The store change for this verdict.
    pub fn to_change(&self, did: &Did, record_cid: &Cid) -> store::Change {
        store::Change::Verdict {
            did: did.clone(),
            record_cid: record_cid.clone(),
            status: self.status,
            reason: self.reason.as_ref().map(|r| r.code().to_string()),
            installation_key: self.installation_key.clone(),
        }
    }
}

/// What replaying an inbox's log gave.
#[derive(Debug, Clone)]
pub enum InboxOutcome {
    /// A state.
    Valid {
        /// The inbox ID the replayed state has (must be the record's).
        inbox_id: String,
        /// The current installations, keys decompressed once.
        keys: Vec<(Vec<u8>, VerifyingKey)>,
        /// Keys of revoked installations (checked only when no current one matches).
        revoked: Vec<Vec<u8>>,
    },
    /// No updates.
    NotFound,
    /// The log fails (evidence).
    Invalid(String),
    /// The log could not be evaluated: a reason that is not evidence.
    Unevaluable(Reason),
}

impl InboxOutcome {
    /// From a replayed state.
    pub fn from_state(state: &xmtp::InboxState) -> Self {
        InboxOutcome::Valid {
            inbox_id: state.inbox_id.clone(),
            keys: state
                .installations()
                .into_iter()
                .filter_map(|i| {
                    let pk: [u8; 32] = i.key.as_slice().try_into().ok()?;
                    let vk = VerifyingKey::from_bytes(&pk).ok()?;
                    Some((i.key, vk))
                })
                .collect(),
            revoked: state
                .revoked_installations
                .iter()
                .filter_map(|k| hex::decode(k).ok())
                .collect(),
        }
    }
}

/// Checks the record's own fields before any network call.
pub fn precheck(inbox_id: &str, verification_signature: &str) -> Result<[u8; 64], Reason> {
    if !xmtp::inbox_id::is_valid_inbox_id(inbox_id) {
        return Err(Reason::MalformedInboxId);
    }
    let sig = syntax::base64::node_base64_decode(verification_signature);
    sig.try_into().map_err(|_| Reason::MalformedSignature)
}

fn signed_by(did: &Did, sig: &[u8; 64], key: &[u8]) -> bool {
    let Ok(pk) = <[u8; 32]>::try_from(key) else {
        return false;
    };
    VerifyingKey::from_bytes(&pk).is_ok_and(|vk| {
        verify_with_key(did.as_str().as_bytes(), sig, &vk, PUBLIC_SIGNATURE_CONTEXT)
    })
}

/// The verdict of one link given its inbox's outcome.
pub fn evaluate(
    did: &Did,
    inbox_id: &str,
    verification_signature: &str,
    outcome: &InboxOutcome,
) -> Verdict {
    let sig = match precheck(inbox_id, verification_signature) {
        Ok(sig) => sig,
        Err(reason) => return Verdict::not_verified(reason),
    };
    match outcome {
        InboxOutcome::NotFound => Verdict::not_verified(Reason::InboxNotFound),
        InboxOutcome::Invalid(why) => Verdict::not_verified(Reason::InboxStateInvalid(why.clone())),
        InboxOutcome::Unevaluable(reason) => Verdict::not_verified(reason.clone()),
        InboxOutcome::Valid {
            inbox_id: replayed, ..
        } if replayed != inbox_id => Verdict::not_verified(Reason::InboxIdMismatch {
            replayed: replayed.clone(),
        }),
        InboxOutcome::Valid { keys, revoked, .. } => {
            if let Some((k, _)) = keys.iter().find(|(_, vk)| {
                verify_with_key(did.as_str().as_bytes(), &sig, vk, PUBLIC_SIGNATURE_CONTEXT)
            }) {
                return Verdict::verified(k);
            }
            if revoked.iter().any(|k| signed_by(did, &sig, k)) {
                Verdict::not_verified(Reason::InstallationRevoked)
            } else {
                Verdict::not_verified(Reason::SignatureMismatch)
            }
        }
    }
}
