//! Decoded, not yet verified identity updates: the protobuf checked for structure
//! (`docs/xmtp-identity.md` §4.1 step 2) and turned into plain Rust types.

use crate::proto::associations as pb;
use serde::{Deserialize, Serialize};

/// A member of an inbox. Ethereum addresses compare as received (case-sensitive);
/// installations and passkeys by key bytes only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MemberId {
    /// An Ethereum address string.
    Ethereum(String),
    /// An Ed25519 installation public key (32 bytes).
    Installation(#[serde(with = "hex_bytes")] Vec<u8>),
    /// A passkey SEC1 public key.
    Passkey(#[serde(with = "hex_bytes")] Vec<u8>),
}

impl MemberId {
    /// The member kind.
    pub fn kind(&self) -> MemberKind {
        match self {
            MemberId::Ethereum(_) => MemberKind::Ethereum,
            MemberId::Installation(_) => MemberKind::Installation,
            MemberId::Passkey(_) => MemberKind::Passkey,
        }
    }
}

/// Kinds of members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// Wallet.
    Ethereum,
    /// App installation.
    Installation,
    /// Passkey.
    Passkey,
}

/// The signature kinds of libxmtp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    /// EIP-191 by an EOA.
    Erc191,
    /// Smart-contract wallet.
    Erc1271,
    /// Installation key.
    InstallationKey,
    /// Legacy v2 delegated key.
    LegacyDelegated,
    /// WebAuthn P-256.
    P256,
}

/// Which signature kinds each member kind may sign with.
pub fn signature_allowed(member: MemberKind, sig: SignatureKind) -> bool {
    match member {
        MemberKind::Ethereum => matches!(
            sig,
            SignatureKind::Erc191 | SignatureKind::Erc1271 | SignatureKind::LegacyDelegated
        ),
        MemberKind::Installation => sig == SignatureKind::InstallationKey,
        MemberKind::Passkey => sig == SignatureKind::P256,
    }
}

/// A structural decoding failure (the whole log then fails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Protobuf bytes did not decode.
    #[error("identity update does not decode: {0}")]
    Protobuf(String),
    /// A required oneof or message is missing.
    #[error("missing field: {0}")]
    Missing(&'static str),
    /// An installation public key is not a 32-byte point.
    #[error("invalid installation public key")]
    InvalidInstallationKey,
    /// A passkey identifier is not hex.
    #[error("invalid passkey identifier")]
    InvalidPasskey,
    /// A CAIP-10 account id does not parse.
    #[error("invalid account id {0:?}")]
    InvalidAccountId(String),
}

/// One decoded identity update with its actions; signatures still unverified.
#[derive(Debug, Clone)]
pub struct DecodedUpdate {
    /// `update.inbox_id`, verbatim.
    pub inbox_id: String,
    /// `client_timestamp_ns`.
    pub client_timestamp_ns: u64,
    /// The actions in order.
    pub actions: Vec<DecodedAction>,
}

/// One decoded action.
#[derive(Debug, Clone)]
pub enum DecodedAction {
    /// `CreateInbox`.
    Create {
        /// The owner as used in the text and the inbox id.
        identifier: MemberId,
        /// The display string of the owner (text, inbox id preimage).
        display: String,
        /// Nonce.
        nonce: u64,
        /// Owner signature.
        signature: pb::Signature,
    },
    /// `AddAssociation`.
    Add {
        /// The new member.
        new_member: MemberId,
        /// Existing member's signature.
        existing_signature: pb::Signature,
        /// New member's signature.
        new_signature: pb::Signature,
    },
    /// `RevokeAssociation`.
    Revoke {
        /// Member to revoke.
        member: MemberId,
        /// Recovery signature.
        signature: pb::Signature,
    },
    /// `ChangeRecoveryAddress`.
    ChangeRecovery {
        /// The new recovery identifier.
        identifier: MemberId,
        /// Its display string (text).
        display: String,
        /// Current recovery identifier's signature.
        signature: pb::Signature,
    },
}

fn identifier(value: &str, kind: i32) -> Result<(MemberId, String), DecodeError> {
    if kind == pb::IdentifierKind::Passkey as i32 {
        let h = value.strip_prefix("0x").unwrap_or(value);
        let bytes = hex::decode(h).map_err(|_| DecodeError::InvalidPasskey)?;
        let display = hex::encode(&bytes);
        Ok((MemberId::Passkey(bytes), display))
    } else {
        Ok((MemberId::Ethereum(value.to_string()), value.to_string()))
    }
}

fn member(m: Option<pb::MemberIdentifier>) -> Result<MemberId, DecodeError> {
    use pb::member_identifier::Kind;
    match m.and_then(|m| m.kind) {
        Some(Kind::EthereumAddress(a)) => Ok(MemberId::Ethereum(a)),
        Some(Kind::InstallationPublicKey(k)) => Ok(MemberId::Installation(k)),
        Some(Kind::Passkey(p)) => Ok(MemberId::Passkey(p.key)),
        None => Err(DecodeError::Missing("member identifier")),
    }
}

fn sig(s: Option<pb::Signature>, what: &'static str) -> Result<pb::Signature, DecodeError> {
    match s {
        Some(s) if s.signature.is_some() => Ok(s),
        _ => Err(DecodeError::Missing(what)),
    }
}

impl DecodedUpdate {
    /// Decodes protobuf bytes of an `IdentityUpdate`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        use prost::Message as _;
        let update =
            pb::IdentityUpdate::decode(bytes).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
        Self::from_proto(update)
    }

    /// Checks the structure of a decoded `IdentityUpdate`.
    pub fn from_proto(update: pb::IdentityUpdate) -> Result<Self, DecodeError> {
        use pb::identity_action::Kind;
        let mut actions = Vec::with_capacity(update.actions.len());
        for action in update.actions {
            let a = match action.kind.ok_or(DecodeError::Missing("action kind"))? {
                Kind::CreateInbox(c) => {
                    let (identifier, display) =
                        identifier(&c.initial_identifier, c.initial_identifier_kind)?;
                    DecodedAction::Create {
                        identifier,
                        display,
                        nonce: c.nonce,
                        signature: sig(c.initial_identifier_signature, "initial signature")?,
                    }
                }
                Kind::Add(a) => DecodedAction::Add {
                    new_member: member(a.new_member_identifier)?,
                    existing_signature: sig(a.existing_member_signature, "existing signature")?,
                    new_signature: sig(a.new_member_signature, "new member signature")?,
                },
                Kind::Revoke(r) => DecodedAction::Revoke {
                    member: member(r.member_to_revoke)?,
                    signature: sig(r.recovery_identifier_signature, "recovery signature")?,
                },
                Kind::ChangeRecoveryAddress(c) => {
                    let (identifier, display) =
                        identifier(&c.new_recovery_identifier, c.new_recovery_identifier_kind)?;
                    DecodedAction::ChangeRecovery {
                        identifier,
                        display,
                        signature: sig(
                            c.existing_recovery_identifier_signature,
                            "recovery signature",
                        )?,
                    }
                }
            };
            actions.push(a);
        }
        // Installation-key signatures must carry a valid 32-byte point (checked on decode
        // in libxmtp), so reject them here, before any text is built.
        for a in &actions {
            for s in a.signatures() {
                if let Some(pb::signature::Signature::InstallationKey(k)) = &s.signature {
                    let Ok(pk) = <[u8; 32]>::try_from(k.public_key.as_slice()) else {
                        return Err(DecodeError::InvalidInstallationKey);
                    };
                    if ed25519_dalek::VerifyingKey::from_bytes(&pk).is_err() {
                        return Err(DecodeError::InvalidInstallationKey);
                    }
                }
                if let Some(pb::signature::Signature::Erc6492(w)) = &s.signature {
                    crate::signature::parse_caip10(&w.account_id)?;
                }
            }
        }
        Ok(Self {
            inbox_id: update.inbox_id,
            client_timestamp_ns: update.client_timestamp_ns,
            actions,
        })
    }
}

impl DecodedAction {
    /// The signatures of this action, in libxmtp's order.
    pub fn signatures(&self) -> Vec<&pb::Signature> {
        match self {
            DecodedAction::Create { signature, .. }
            | DecodedAction::Revoke { signature, .. }
            | DecodedAction::ChangeRecovery { signature, .. } => vec![signature],
            DecodedAction::Add {
                existing_signature,
                new_signature,
                ..
            } => {
                vec![existing_signature, new_signature]
            }
        }
    }
}

/// Serde helper: bytes as lower-case hex strings.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}
