//! The inbox (association) state that replaying an identity-update log produces, and its
//! serialized cache form (the verifier stores it per inbox so that re-checks replay only
//! the new log entries).

use crate::model::MemberId;
use crate::replay_error::{ReplayClass, ReplayErrorKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A member with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Who.
    pub id: MemberId,
    /// Which member (or recovery identifier) added it; `None` for the creator.
    pub added_by: Option<MemberId>,
    /// `client_timestamp_ns` of the update that added it.
    pub client_timestamp_ns: Option<u64>,
    /// Chain id of the signature that added it (smart-contract wallets).
    pub chain_id: Option<u64>,
}

/// An installation of an inbox, as `InboxState.installations` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// The 32-byte Ed25519 public key (= installation id).
    pub key: Vec<u8>,
    /// Timestamp of the update that added it.
    pub client_timestamp_ns: Option<u64>,
}

/// The state of one inbox after replaying its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxState {
    /// The inbox id derived at creation.
    pub inbox_id: String,
    /// The recovery identifier.
    pub recovery: MemberId,
    /// Members in insertion order.
    pub members: Vec<Member>,
    /// Replay protection: hex of every signature's raw bytes seen in applied updates.
    pub seen_signatures: BTreeSet<String>,
    /// Hex keys of installations revoked and not re-added since (so that a verdict can say
    /// "revoked" rather than only "no current installation signed"). Absent in states
    /// cached before it existed.
    #[serde(default)]
    pub revoked_installations: BTreeSet<String>,
}

impl InboxState {
    /// The member entry for `id`.
    pub fn get(&self, id: &MemberId) -> Option<&Member> {
        self.members.iter().find(|m| &m.id == id)
    }

    /// Inserts or overwrites a member (a re-added installation is no longer revoked).
    pub fn upsert(&mut self, member: Member) {
        if let MemberId::Installation(k) = &member.id {
            self.revoked_installations.remove(&hex::encode(k));
        }
        match self.members.iter_mut().find(|m| m.id == member.id) {
            Some(slot) => *slot = member,
            None => self.members.push(member),
        }
    }

    /// Whether a signature's raw bytes were already used in an applied update.
    pub fn has_seen(&self, raw: &[u8]) -> bool {
        self.seen_signatures.contains(&hex::encode(raw))
    }

    /// The installations, sorted by the timestamp of the update that added them.
    pub fn installations(&self) -> Vec<Installation> {
        let mut v: Vec<Installation> = self
            .members
            .iter()
            .filter_map(|m| match &m.id {
                MemberId::Installation(k) => Some(Installation {
                    key: k.clone(),
                    client_timestamp_ns: m.client_timestamp_ns,
                }),
                _ => None,
            })
            .collect();
        v.sort_by_key(|i| i.client_timestamp_ns);
        v
    }

    /// Ethereum and passkey members.
    pub fn identifiers(&self) -> Vec<MemberId> {
        self.members
            .iter()
            .filter(|m| !matches!(m.id, MemberId::Installation(_)))
            .map(|m| m.id.clone())
            .collect()
    }
}

/// What the verifier caches per inbox: the log position and the replay outcome so far.
/// Only a failure that is evidence is cached, and it is final: libxmtp fails the whole
/// log, so later entries cannot repair it. A failure that only says "could not evaluate"
/// is never cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CachedInbox {
    /// Replay succeeded up to `last_sequence_id`.
    Valid {
        /// Last applied log entry.
        last_sequence_id: u64,
        /// The state.
        state: InboxState,
    },
    /// Replay failed at some entry up to `last_sequence_id`.
    Invalid {
        /// Last log entry seen.
        last_sequence_id: u64,
        /// Why.
        reason: String,
        /// The failure's kind. `None` in entries cached before kinds existed: those may
        /// hold a failure that was not evidence, so they are not trusted
        /// ([`CachedInbox::is_final_invalid`]).
        #[serde(default)]
        kind: Option<ReplayErrorKind>,
    },
}

/// A cached state did not deserialize (treat as absent: replay from 0).
#[derive(Debug, thiserror::Error)]
#[error("cached inbox state does not deserialize: {0}")]
pub struct CacheError(String);

impl CachedInbox {
    /// The log position.
    pub fn last_sequence_id(&self) -> u64 {
        match self {
            CachedInbox::Valid {
                last_sequence_id, ..
            }
            | CachedInbox::Invalid {
                last_sequence_id, ..
            } => *last_sequence_id,
        }
    }

    /// Whether this is an invalid log whose failure is evidence (final: no need to fetch
    /// the log again). A legacy entry without a kind is not.
    pub fn is_final_invalid(&self) -> bool {
        matches!(
            self,
            CachedInbox::Invalid { kind: Some(k), .. } if k.class() == ReplayClass::Evidence
        )
    }

    /// Serializes for `store::Change::InboxState`.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Deserializes a stored state.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CacheError> {
        serde_json::from_slice(bytes).map_err(|e| CacheError(e.to_string()))
    }
}
