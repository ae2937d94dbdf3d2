//! Why an identity-update log does not replay, typed: [`ReplayErrorKind`] and its
//! [`ReplayClass`] tell evidence against the inbox (libxmtp's rules, bad signatures) from
//! "could not evaluate" (an update this verifier cannot decode or does not know, a
//! smart-contract-wallet signature the network could not check).

use crate::inbox_id::InboxIdError;
use crate::model::DecodeError;
use crate::signature::SignatureError;

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
