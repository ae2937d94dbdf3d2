//! `xmtp.identity.associations`: identity updates, actions, member identifiers and the
//! signature kinds (field numbers from `association.proto` / `signature.proto`).

use super::message_contents::SignedPublicKey;

/// `IdentifierKind`: 0 is read as Ethereum (do not confuse with the JS enum, where
/// Ethereum = 0 and Passkey = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum IdentifierKind {
    /// Unspecified: treated as Ethereum.
    Unspecified = 0,
    /// An Ethereum address.
    Ethereum = 1,
    /// A passkey public key.
    Passkey = 2,
}

/// `IdentityUpdate`: one signed log entry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IdentityUpdate {
    /// The actions, applied in order.
    #[prost(message, repeated, tag = "1")]
    pub actions: Vec<IdentityAction>,
    /// The client's clock at signing time (goes into the signature text).
    #[prost(uint64, tag = "2")]
    pub client_timestamp_ns: u64,
    /// The inbox this update belongs to.
    #[prost(string, tag = "3")]
    pub inbox_id: String,
}

/// `IdentityAction`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IdentityAction {
    /// The action.
    #[prost(oneof = "identity_action::Kind", tags = "1, 2, 3, 4")]
    pub kind: Option<identity_action::Kind>,
}

/// Nested types of [`IdentityAction`].
pub mod identity_action {
    /// `IdentityAction.kind`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// Create the inbox.
        #[prost(message, tag = "1")]
        CreateInbox(super::CreateInbox),
        /// Add a member.
        #[prost(message, tag = "2")]
        Add(super::AddAssociation),
        /// Revoke a member.
        #[prost(message, tag = "3")]
        Revoke(super::RevokeAssociation),
        /// Change the recovery identifier.
        #[prost(message, tag = "4")]
        ChangeRecoveryAddress(super::ChangeRecoveryAddress),
    }
}

/// `CreateInbox`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateInbox {
    /// The owner (address or passkey hex), verbatim.
    #[prost(string, tag = "1")]
    pub initial_identifier: String,
    /// The nonce of the inbox id derivation.
    #[prost(uint64, tag = "2")]
    pub nonce: u64,
    /// The owner's signature over the update text.
    #[prost(message, optional, tag = "3")]
    pub initial_identifier_signature: Option<Signature>,
    /// The owner's identifier kind.
    #[prost(enumeration = "IdentifierKind", tag = "4")]
    pub initial_identifier_kind: i32,
    /// Passkey relying party.
    #[prost(string, optional, tag = "5")]
    pub relying_party: Option<String>,
}

/// `AddAssociation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddAssociation {
    /// The member being added.
    #[prost(message, optional, tag = "1")]
    pub new_member_identifier: Option<MemberIdentifier>,
    /// Signature of an existing member (or the recovery identifier).
    #[prost(message, optional, tag = "2")]
    pub existing_member_signature: Option<Signature>,
    /// Signature of the new member.
    #[prost(message, optional, tag = "3")]
    pub new_member_signature: Option<Signature>,
    /// Passkey relying party.
    #[prost(string, optional, tag = "4")]
    pub relying_party: Option<String>,
}

/// `RevokeAssociation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RevokeAssociation {
    /// The member being revoked.
    #[prost(message, optional, tag = "1")]
    pub member_to_revoke: Option<MemberIdentifier>,
    /// The recovery identifier's signature.
    #[prost(message, optional, tag = "2")]
    pub recovery_identifier_signature: Option<Signature>,
}

/// `ChangeRecoveryAddress`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChangeRecoveryAddress {
    /// The new recovery identifier, verbatim.
    #[prost(string, tag = "1")]
    pub new_recovery_identifier: String,
    /// The current recovery identifier's signature.
    #[prost(message, optional, tag = "2")]
    pub existing_recovery_identifier_signature: Option<Signature>,
    /// Kind of the new recovery identifier.
    #[prost(enumeration = "IdentifierKind", tag = "3")]
    pub new_recovery_identifier_kind: i32,
    /// Passkey relying party.
    #[prost(string, optional, tag = "4")]
    pub relying_party: Option<String>,
}

/// `MemberIdentifier`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MemberIdentifier {
    /// Which member.
    #[prost(oneof = "member_identifier::Kind", tags = "1, 2, 3")]
    pub kind: Option<member_identifier::Kind>,
}

/// Nested types of [`MemberIdentifier`].
pub mod member_identifier {
    /// `MemberIdentifier.kind`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// An Ethereum address string.
        #[prost(string, tag = "1")]
        EthereumAddress(String),
        /// A 32-byte Ed25519 installation key.
        #[prost(bytes = "vec", tag = "2")]
        InstallationPublicKey(Vec<u8>),
        /// A passkey.
        #[prost(message, tag = "3")]
        Passkey(super::Passkey),
    }
}

/// `Passkey`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Passkey {
    /// SEC1 P-256 public key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// Relying party.
    #[prost(string, optional, tag = "2")]
    pub relying_party: Option<String>,
}

/// `Signature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Signature {
    /// The signature kind.
    #[prost(oneof = "signature::Signature", tags = "1, 2, 3, 4, 5")]
    pub signature: Option<signature::Signature>,
}

/// Nested types of [`Signature`].
pub mod signature {
    /// `Signature.signature`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Signature {
        /// EIP-191 personal-sign by an EOA.
        #[prost(message, tag = "1")]
        Erc191(super::RecoverableEcdsaSignature),
        /// Smart-contract wallet (ERC-6492 / ERC-1271).
        #[prost(message, tag = "2")]
        Erc6492(super::SmartContractWalletSignature),
        /// Installation key (Ed25519ph, identity-update context).
        #[prost(message, tag = "3")]
        InstallationKey(super::RecoverableEd25519Signature),
        /// Legacy XMTP v2 delegated key.
        #[prost(message, tag = "4")]
        DelegatedErc191(super::LegacyDelegatedSignature),
        /// WebAuthn passkey (P-256).
        #[prost(message, tag = "5")]
        Passkey(super::RecoverablePasskeySignature),
    }
}

/// `RecoverableEcdsaSignature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RecoverableEcdsaSignature {
    /// `r || s || v`, 65 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub bytes: Vec<u8>,
}

/// `SmartContractWalletSignature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SmartContractWalletSignature {
    /// CAIP-10 account id, `eip155:<chain>:<address>`.
    #[prost(string, tag = "1")]
    pub account_id: String,
    /// Block number the signature is checked at.
    #[prost(uint64, tag = "2")]
    pub block_number: u64,
    /// The signature bytes.
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
}

/// `RecoverableEd25519Signature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RecoverableEd25519Signature {
    /// 64 signature bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub bytes: Vec<u8>,
    /// 32-byte public key.
    #[prost(bytes = "vec", tag = "2")]
    pub public_key: Vec<u8>,
}

/// `RecoverablePasskeySignature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RecoverablePasskeySignature {
    /// SEC1 P-256 public key.
    #[prost(bytes = "vec", tag = "1")]
    pub public_key: Vec<u8>,
    /// DER ECDSA signature.
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
    /// WebAuthn authenticator data.
    #[prost(bytes = "vec", tag = "3")]
    pub authenticator_data: Vec<u8>,
    /// WebAuthn client data JSON.
    #[prost(bytes = "vec", tag = "4")]
    pub client_data_json: Vec<u8>,
}

/// `LegacyDelegatedSignature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LegacyDelegatedSignature {
    /// The v2 key, signed by the wallet.
    #[prost(message, optional, tag = "1")]
    pub delegated_key: Option<SignedPublicKey>,
    /// The v2 key's signature over the update text.
    #[prost(message, optional, tag = "2")]
    pub signature: Option<RecoverableEcdsaSignature>,
}
