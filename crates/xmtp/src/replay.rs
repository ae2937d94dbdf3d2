//! Replaying an identity-update log into an [`InboxState`] with libxmtp's rules
//! (`docs/xmtp-identity.md` §4.4). Any failure fails the whole log: nothing is skipped.

use crate::inbox_id::{InboxIdError, inbox_id_raw, inbox_id_verbatim_eth};
use crate::model::{
    DecodeError, DecodedAction, DecodedUpdate, MemberId, MemberKind, SignatureKind,
    signature_allowed,
};
use crate::signature::{
    ScwRequest, ScwResults, SignatureError, VerifiedSignature, scw_request, verify_signature,
};
use crate::state::{InboxState, Member};
use crate::text::signature_text;

/// Why a log does not replay. Most variants are evidence against the inbox; a few only
/// say that the log could not be evaluated ([`ReplayError::class`]). Never a transport
/// fault: those are [`crate::ApiError`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// An update does not decode or is structurally incomplete.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A signature does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The inbox has no updates.
    #[error("Missing identity update")]
    MissingIdentityUpdate,
    /// A second CreateInbox.
    #[error("Multiple create operations detected")]
    MultipleCreate,
    /// An action before CreateInbox.
    #[error("XID not yet created")]
    NotCreated,
    /// Signer is neither the expected member nor the recovery identifier.
    #[error("Missing existing member")]
    MissingExistingMember,
    /// Legacy signature outside a nonce-0 inbox.
    #[error("Legacy key is only allowed to be associated using a legacy signature with nonce 0")]
    LegacySignatureReuse,
    /// The new member's signer is not the new member.
    #[error("The new member identifier does not match the signer")]
    NewMemberIdSignatureMismatch,
    /// A member tried to add itself.
    #[error("tried to add self")]
    AddSelf,
    /// An installation tried to add an installation.
    #[error("Member of kind installation not allowed to add installation")]
    MemberNotAllowed,
    /// Signature kind not allowed for the member kind.
    #[error("Signature not allowed for role")]
    SignatureNotAllowed,
    /// A signature was already used in an earlier update.
    #[error("Replay detected")]
    Replay,
    /// The update's inbox id is not the state's.
    #[error("Wrong inbox_id specified on association")]
    WrongInboxId,
    /// Smart-contract wallet signing from another chain.
    #[error("Wrong chain id")]
    ChainIdMismatch,
    /// Creator identifier is not a valid address.
    #[error(transparent)]
    InboxId(#[from] InboxIdError),
}

/// Whether a replay failure is evidence or only says the log could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ReplayClass {
    /// The log is invalid under libxmtp's rules; it stays invalid (the log is append-only).
    Evidence,
    /// This verifier could not decide (an update it cannot decode or does not know, a
    /// smart-contract-wallet signature the network could not check): try again later.
    Unevaluable,
}

/// The typed kind of a [`ReplayError`] (stable, fieldless; its [`ReplayErrorKind::code`]
/// is logged and cached).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ReplayErrorKind {
    /// An update's bytes do not decode as an `IdentityUpdate`.
    UndecodableUpdate,
    /// A oneof (action, signature or member kind) is absent: a kind this verifier does not
    /// know (e.g. one XMTP added later) or an incomplete update.
    UnknownKind,
    /// A field of a known kind is malformed (installation key, passkey, CAIP-10 id).
    MalformedField,
    /// A signature does not verify.
    InvalidSignature,
    /// The network said a smart-contract-wallet signature is invalid.
    ScwInvalid,
    /// A smart-contract-wallet signature was not checked (no answer, or an `error` answer).
    ScwUnchecked,
    /// No updates at all.
    MissingIdentityUpdate,
    /// A second CreateInbox.
    MultipleCreate,
    /// An action before CreateInbox.
    NotCreated,
    /// The signer may not do this.
    MissingExistingMember,
    /// Misuse of a legacy signature.
    LegacySignatureReuse,
    /// The new member is not the new member's signer.
    NewMemberIdSignatureMismatch,
    /// A member added itself.
    AddSelf,
    /// An installation added an installation.
    MemberNotAllowed,
    /// Signature kind not allowed for the member kind.
    SignatureNotAllowed,
    /// A signature was reused.
    Replay,
    /// An update names another inbox.
    WrongInboxId,
    /// Smart-contract wallet from another chain.
    ChainIdMismatch,
    /// The creator identifier cannot derive an inbox id.
    InvalidIdentifier,
}

impl ReplayErrorKind {
    /// Evidence or not.
    pub fn class(self) -> ReplayClass {
        use ReplayErrorKind as K;
        match self {
            K::UndecodableUpdate | K::UnknownKind | K::MalformedField | K::ScwUnchecked => {
                ReplayClass::Unevaluable
            }
            _ => ReplayClass::Evidence,
        }
    }

    /// A short snake-case code (logs, metrics).
    pub fn code(self) -> &'static str {
        use ReplayErrorKind as K;
        match self {
            K::UndecodableUpdate => "undecodable_update",
            K::UnknownKind => "unknown_kind",
            K::MalformedField => "malformed_field",
            K::InvalidSignature => "invalid_signature",
            K::ScwInvalid => "scw_invalid",
            K::ScwUnchecked => "scw_unchecked",
            K::MissingIdentityUpdate => "missing_identity_update",
            K::MultipleCreate => "multiple_create",
            K::NotCreated => "not_created",
            K::MissingExistingMember => "missing_existing_member",
            K::LegacySignatureReuse => "legacy_signature_reuse",
            K::NewMemberIdSignatureMismatch => "new_member_id_signature_mismatch",
            K::AddSelf => "add_self",
            K::MemberNotAllowed => "member_not_allowed",
            K::SignatureNotAllowed => "signature_not_allowed",
            K::Replay => "replay",
            K::WrongInboxId => "wrong_inbox_id",
            K::ChainIdMismatch => "chain_id_mismatch",
            K::InvalidIdentifier => "invalid_identifier",
        }
    }
}

fn decode_kind(e: &DecodeError) -> ReplayErrorKind {
    match e {
        DecodeError::Protobuf(_) => ReplayErrorKind::UndecodableUpdate,
        DecodeError::Missing(_) => ReplayErrorKind::UnknownKind,
        DecodeError::InvalidInstallationKey
        | DecodeError::InvalidPasskey
        | DecodeError::InvalidAccountId(_) => ReplayErrorKind::MalformedField,
    }
}

impl ReplayError {
    /// The typed kind.
    pub fn kind(&self) -> ReplayErrorKind {
        use ReplayErrorKind as K;
        match self {
            ReplayError::Decode(d) => decode_kind(d),
            ReplayError::Signature(SignatureError::Decode(d)) => decode_kind(d),
            ReplayError::Signature(SignatureError::SmartContractWallet) => K::ScwInvalid,
            ReplayError::Signature(
                SignatureError::SmartContractWalletUnchecked
                | SignatureError::SmartContractWalletError(_),
            ) => K::ScwUnchecked,
            ReplayError::Signature(_) => K::InvalidSignature,
            ReplayError::MissingIdentityUpdate => K::MissingIdentityUpdate,
            ReplayError::MultipleCreate => K::MultipleCreate,
            ReplayError::NotCreated => K::NotCreated,
            ReplayError::MissingExistingMember => K::MissingExistingMember,
            ReplayError::LegacySignatureReuse => K::LegacySignatureReuse,
            ReplayError::NewMemberIdSignatureMismatch => K::NewMemberIdSignatureMismatch,
            ReplayError::AddSelf => K::AddSelf,
            ReplayError::MemberNotAllowed => K::MemberNotAllowed,
            ReplayError::SignatureNotAllowed => K::SignatureNotAllowed,
            ReplayError::Replay => K::Replay,
            ReplayError::WrongInboxId => K::WrongInboxId,
            ReplayError::ChainIdMismatch => K::ChainIdMismatch,
            ReplayError::InboxId(_) => K::InvalidIdentifier,
        }
    }

    /// Evidence, or could not evaluate.
    pub fn class(&self) -> ReplayClass {
        self.kind().class()
    }

    /// Whether this failure is evidence that the log is invalid.
    pub fn is_evidence(&self) -> bool {
        self.class() == ReplayClass::Evidence
    }
}

/// The smart-contract-wallet checks the updates need (ask the network, then replay).
pub fn scw_requests(updates: &[DecodedUpdate]) -> Vec<ScwRequest> {
    let mut out = Vec::new();
    for u in updates {
        let text = signature_text(u);
        for a in &u.actions {
            out.extend(
                a.signatures()
                    .into_iter()
                    .filter_map(|s| scw_request(&text, s)),
            );
        }
    }
    out
}

fn check_replay(state: &InboxState, sigs: &[&VerifiedSignature]) -> Result<(), ReplayError> {
    if sigs.iter().any(|s| state.has_seen(&s.raw)) {
        return Err(ReplayError::Replay);
    }
    Ok(())
}

fn check_chain(state: &InboxState, sig: &VerifiedSignature) -> Result<(), ReplayError> {
    match state.get(&sig.signer) {
        Some(m) if m.chain_id != sig.chain_id => Err(ReplayError::ChainIdMismatch),
        _ => Ok(()),
    }
}

fn allowed(kind: MemberKind, sig: SignatureKind) -> Result<(), ReplayError> {
    if signature_allowed(kind, sig) {
        Ok(())
    } else {
        Err(ReplayError::SignatureNotAllowed)
    }
}

/// The inbox id an identifier derives with `nonce` (Ethereum verbatim, passkey hex).
fn derive(identifier: &MemberId, display: &str, nonce: u64) -> Result<String, ReplayError> {
    match identifier {
        MemberId::Ethereum(a) => Ok(inbox_id_verbatim_eth(a, nonce)?),
        _ => Ok(inbox_id_raw(display, nonce)),
    }
}

fn identifier_inbox_id_nonce0(id: &MemberId) -> Result<Option<String>, ReplayError> {
    match id {
        MemberId::Ethereum(a) => Ok(Some(inbox_id_verbatim_eth(a, 0)?)),
        MemberId::Passkey(k) => Ok(Some(inbox_id_raw(&hex::encode(k), 0))),
        MemberId::Installation(_) => Ok(None),
    }
}

fn apply_action(
    state: Option<InboxState>,
    action: &DecodedAction,
    sigs: &[VerifiedSignature],
    ts: u64,
) -> Result<InboxState, ReplayError> {
    let is_legacy = |s: &VerifiedSignature| s.kind == SignatureKind::LegacyDelegated;
    match action {
        DecodedAction::Create {
            identifier,
            display,
            nonce,
            ..
        } => {
            if state.is_some() {
                return Err(ReplayError::MultipleCreate);
            }
            let sig = &sigs[0];
            if &sig.signer != identifier {
                return Err(ReplayError::MissingExistingMember);
            }
            allowed(identifier.kind(), sig.kind)?;
            if is_legacy(sig) && *nonce != 0 {
                return Err(ReplayError::LegacySignatureReuse);
            }
            let inbox_id = derive(identifier, display, *nonce)?;
            Ok(InboxState {
                inbox_id,
                recovery: identifier.clone(),
                members: vec![Member {
                    id: identifier.clone(),
                    added_by: None,
                    client_timestamp_ns: None,
                    chain_id: sig.chain_id,
                }],
                seen_signatures: Default::default(),
                revoked_installations: Default::default(),
            })
        }
        DecodedAction::Add { new_member, .. } => {
            let mut state = state.ok_or(ReplayError::NotCreated)?;
            let (existing, new) = (&sigs[0], &sigs[1]);
            check_replay(&state, &[existing, new])?;
            if &new.signer != new_member {
                return Err(ReplayError::NewMemberIdSignatureMismatch);
            }
            if new.signer == existing.signer {
                return Err(ReplayError::AddSelf);
            }
            if (is_legacy(new) || is_legacy(existing))
                && let Some(id0) = identifier_inbox_id_nonce0(&existing.signer)?
                && state.inbox_id != id0
            {
                return Err(ReplayError::LegacySignatureReuse);
            }
            allowed(new_member.kind(), new.kind)?;
            check_chain(&state, existing)?;
            let parent = match state.get(&existing.signer) {
                Some(m) => m.id.clone(),
                None => {
                    if existing.signer != state.recovery {
                        return Err(ReplayError::MissingExistingMember);
                    }
                    if is_legacy(existing) {
                        return Err(ReplayError::LegacySignatureReuse);
                    }
                    state.recovery.clone()
                }
            };
            allowed(parent.kind(), existing.kind)?;
            if existing.signer.kind() == MemberKind::Installation
                && new_member.kind() == MemberKind::Installation
            {
                return Err(ReplayError::MemberNotAllowed);
            }
            state.upsert(Member {
                id: new.signer.clone(),
                added_by: Some(parent),
                client_timestamp_ns: Some(ts),
                chain_id: new.chain_id,
            });
            Ok(state)
        }
        DecodedAction::Revoke { member, .. } => {
            let mut state = state.ok_or(ReplayError::NotCreated)?;
            let sig = &sigs[0];
            check_replay(&state, &[sig])?;
            check_chain(&state, sig)?;
            if is_legacy(sig) {
                return Err(ReplayError::SignatureNotAllowed);
            }
            if sig.signer != state.recovery {
                return Err(ReplayError::MissingExistingMember);
            }
            let mut revoked = Vec::new();
            state.members.retain(|m| {
                let child_installation =
                    m.added_by.as_ref() == Some(member) && m.id.kind() == MemberKind::Installation;
                let keep = &m.id != member && !child_installation;
                if let (false, MemberId::Installation(k)) = (keep, &m.id) {
                    revoked.push(hex::encode(k));
                }
                keep
            });
            state.revoked_installations.extend(revoked);
            Ok(state)
        }
        DecodedAction::ChangeRecovery { identifier, .. } => {
            let mut state = state.ok_or(ReplayError::NotCreated)?;
            let sig = &sigs[0];
            check_replay(&state, &[sig])?;
            check_chain(&state, sig)?;
            if is_legacy(sig) {
                return Err(ReplayError::SignatureNotAllowed);
            }
            if sig.signer != state.recovery {
                return Err(ReplayError::MissingExistingMember);
            }
            state.recovery = identifier.clone();
            Ok(state)
        }
    }
}

/// Verifies every signature of `update`, in action order.
pub fn verify_update(
    update: &DecodedUpdate,
    scw: &ScwResults,
) -> Result<Vec<Vec<VerifiedSignature>>, ReplayError> {
    let text = signature_text(update);
    update
        .actions
        .iter()
        .map(|a| {
            a.signatures()
                .into_iter()
                .map(|s| verify_signature(&text, s, scw).map_err(ReplayError::from))
                .collect()
        })
        .collect()
}

/// Applies one update to `state` (`None` = no CreateInbox yet).
pub fn apply_update(
    state: Option<InboxState>,
    update: &DecodedUpdate,
    scw: &ScwResults,
) -> Result<InboxState, ReplayError> {
    let verified = verify_update(update, scw)?;
    let mut state = state;
    for (action, sigs) in update.actions.iter().zip(&verified) {
        state = Some(apply_action(
            state,
            action,
            sigs,
            update.client_timestamp_ns,
        )?);
    }
    let mut state = state.ok_or(ReplayError::NotCreated)?;
    if state.inbox_id != update.inbox_id {
        return Err(ReplayError::WrongInboxId);
    }
    for sig in verified.iter().flatten() {
        state.seen_signatures.insert(hex::encode(&sig.raw));
    }
    Ok(state)
}

/// Replays `updates` in order on top of `state`. An inbox with neither a state nor updates
/// fails with [`ReplayError::MissingIdentityUpdate`], like the SDK.
pub fn replay(
    state: Option<InboxState>,
    updates: &[DecodedUpdate],
    scw: &ScwResults,
) -> Result<InboxState, ReplayError> {
    if state.is_none() && updates.is_empty() {
        return Err(ReplayError::MissingIdentityUpdate);
    }
    let mut state = state;
    for u in updates {
        state = Some(apply_update(state, u, scw)?);
    }
    state.ok_or(ReplayError::MissingIdentityUpdate)
}

/// Decodes raw update bytes and replays them (offline: no smart-contract-wallet answers
/// unless supplied).
pub fn replay_bytes(
    state: Option<InboxState>,
    updates: &[Vec<u8>],
    scw: &ScwResults,
) -> Result<InboxState, ReplayError> {
    let decoded = updates
        .iter()
        .map(|b| DecodedUpdate::from_bytes(b))
        .collect::<Result<Vec<_>, _>>()?;
    replay(state, &decoded, scw)
}
