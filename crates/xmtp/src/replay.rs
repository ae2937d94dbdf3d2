//! Replaying an identity-update log into an [`InboxState`] with libxmtp's rules
//! (`docs/xmtp-identity.md` §4.4). Any failure fails the whole log: nothing is skipped.

use crate::inbox_id::{inbox_id_raw, inbox_id_verbatim_eth};
use crate::model::{
    DecodedAction, DecodedUpdate, MemberId, MemberKind, SignatureKind, signature_allowed,
};
use crate::signature::{ScwRequest, ScwResults, VerifiedSignature, scw_request, verify_signature};

pub use crate::replay_error::{ReplayClass, ReplayError, ReplayErrorKind};
use crate::state::{InboxState, Member};
use crate::text::signature_text;

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
