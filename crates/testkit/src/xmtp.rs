//! Building and signing identity updates the way libxmtp does (wallet = a K-256 key
//! signing EIP-191 over the §4.2 text; installations = Ed25519 keys signing under the
//! identity-update context). Used by the devnet stand-in and by tests; cross-checked
//! against the captured real updates.

use k256::ecdsa::SigningKey;
use xmtp::inbox_id::inbox_id_raw;
use xmtp::installation::InstallationKey;
use xmtp::model::{DecodedAction, DecodedUpdate, MemberId};
use xmtp::proto::associations as pb;
use xmtp::signature::{eip191_hash, eth_address};
use xmtp::text::signature_text;

/// An externally owned Ethereum account (test/devnet wallet).
#[derive(Clone)]
pub struct Wallet {
    key: SigningKey,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Wallet({})", self.address())
    }
}

impl Wallet {
    /// From a 32-byte secret key; `None` if out of range.
    pub fn from_bytes(secret: &[u8; 32]) -> Option<Self> {
        SigningKey::from_bytes(secret.into())
            .ok()
            .map(|key| Self { key })
    }

    /// A fresh random wallet.
    pub fn generate() -> Self {
        loop {
            if let Some(w) = Self::from_bytes(&rand::random()) {
                return w;
            }
        }
    }

    /// Lower-case `0x` address.
    pub fn address(&self) -> String {
        eth_address(self.key.verifying_key())
    }

    /// The uncompressed SEC1 public key (65 bytes).
    pub fn public_key_uncompressed(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    /// `personal_sign(text)`: 65 bytes `r || s || v` with v = 27/28, low-s.
    pub fn sign_erc191(&self, text: &str) -> Vec<u8> {
        self.sign_hash(&eip191_hash(text.as_bytes()))
    }

    /// ECDSA over a 32-byte hash: 65 bytes `r || s || v` with v = 27/28, low-s.
    pub fn sign_hash(&self, digest: &[u8; 32]) -> Vec<u8> {
        match self.key.sign_prehash_recoverable(digest) {
            Ok((sig, recid)) => {
                let mut out = sig.to_bytes().to_vec();
                out.push(27 + recid.to_byte());
                out
            }
            // Signing a 32-byte prehash with a valid key does not fail.
            Err(_) => vec![0; 65],
        }
    }
}

/// A smart-contract wallet (ERC-1271) for the devnet and tests: a contract at `address` on
/// chain `chain_id` whose `isValidSignature(hash, sig)` accepts its owner's ECDSA signature
/// over the hash. Its identity-update signatures are `erc_6492`, which only the network can
/// check.
#[derive(Debug, Clone)]
pub struct ScwWallet {
    /// The EOA that controls the contract.
    pub owner: Wallet,
    /// The contract address, lower-case `0x` hex.
    pub address: String,
    /// The EIP-155 chain id.
    pub chain_id: u64,
}

impl ScwWallet {
    /// A contract at a random address owned by a random key.
    pub fn generate(chain_id: u64) -> Self {
        Self {
            owner: Wallet::generate(),
            address: format!("0x{}", hex::encode(rand::random::<[u8; 20]>())),
            chain_id,
        }
    }

    /// `eip155:<chain>:<address>`.
    pub fn account_id(&self) -> String {
        format!("eip155:{}:{}", self.chain_id, self.address)
    }

    /// The `erc_6492` signature of `text` (the owner signs its EIP-191 hash).
    pub fn sign(&self, text: &str, block_number: u64) -> pb::Signature {
        pb::Signature {
            signature: Some(pb::signature::Signature::Erc6492(
                pb::SmartContractWalletSignature {
                    account_id: self.account_id(),
                    block_number,
                    signature: self.owner.sign_hash(&eip191_hash(text.as_bytes())),
                },
            )),
        }
    }
}

/// [`create_inbox`] for a smart-contract wallet: CreateInbox + AddAssociation of the first
/// installation, one `erc_6492` signature covering both.
pub fn create_inbox_scw(
    wallet: &ScwWallet,
    nonce: u64,
    installation: &InstallationKey,
    ts: u64,
) -> pb::IdentityUpdate {
    let address = wallet.address.clone();
    let inbox_id = inbox_id_raw(&address, nonce);
    let placeholder = pb::Signature::default();
    let text = text_of(
        &inbox_id,
        ts,
        vec![
            DecodedAction::Create {
                identifier: MemberId::Ethereum(address.clone()),
                display: address.clone(),
                nonce,
                signature: placeholder.clone(),
            },
            DecodedAction::Add {
                new_member: MemberId::Installation(installation.public_key().to_vec()),
                existing_signature: placeholder.clone(),
                new_signature: placeholder,
            },
        ],
    );
    let wallet_sig = wallet.sign(&text, 1);
    pb::IdentityUpdate {
        actions: vec![
            action(pb::identity_action::Kind::CreateInbox(pb::CreateInbox {
                initial_identifier: address,
                nonce,
                initial_identifier_signature: Some(wallet_sig.clone()),
                initial_identifier_kind: pb::IdentifierKind::Ethereum as i32,
                relying_party: None,
            })),
            action(pb::identity_action::Kind::Add(pb::AddAssociation {
                new_member_identifier: Some(installation_member(&installation.public_key())),
                existing_member_signature: Some(wallet_sig),
                new_member_signature: Some(ed25519(installation, &text)),
                relying_party: None,
            })),
        ],
        client_timestamp_ns: ts,
        inbox_id,
    }
}

fn text_of(inbox_id: &str, ts: u64, actions: Vec<DecodedAction>) -> String {
    signature_text(&DecodedUpdate {
        inbox_id: inbox_id.to_string(),
        client_timestamp_ns: ts,
        actions,
    })
}

fn erc191(bytes: Vec<u8>) -> pb::Signature {
    pb::Signature {
        signature: Some(pb::signature::Signature::Erc191(
            pb::RecoverableEcdsaSignature { bytes },
        )),
    }
}

fn ed25519(key: &InstallationKey, text: &str) -> pb::Signature {
    pb::Signature {
        signature: Some(pb::signature::Signature::InstallationKey(
            pb::RecoverableEd25519Signature {
                bytes: key.sign_identity_update(text).to_vec(),
                public_key: key.public_key().to_vec(),
            },
        )),
    }
}

fn installation_member(key: &[u8]) -> pb::MemberIdentifier {
    pb::MemberIdentifier {
        kind: Some(pb::member_identifier::Kind::InstallationPublicKey(
            key.to_vec(),
        )),
    }
}

fn action(kind: pb::identity_action::Kind) -> pb::IdentityAction {
    pb::IdentityAction { kind: Some(kind) }
}

/// What `Client.create` publishes for a new wallet: CreateInbox + AddAssociation of the
/// first installation, one wallet signature covering both.
pub fn create_inbox(
    wallet: &Wallet,
    nonce: u64,
    installation: &InstallationKey,
    ts: u64,
) -> pb::IdentityUpdate {
    let address = wallet.address();
    let inbox_id = inbox_id_raw(&address, nonce);
    let placeholder = pb::Signature::default();
    let text = text_of(
        &inbox_id,
        ts,
        vec![
            DecodedAction::Create {
                identifier: MemberId::Ethereum(address.clone()),
                display: address.clone(),
                nonce,
                signature: placeholder.clone(),
            },
            DecodedAction::Add {
                new_member: MemberId::Installation(installation.public_key().to_vec()),
                existing_signature: placeholder.clone(),
                new_signature: placeholder,
            },
        ],
    );
    let wallet_sig = erc191(wallet.sign_erc191(&text));
    pb::IdentityUpdate {
        actions: vec![
            action(pb::identity_action::Kind::CreateInbox(pb::CreateInbox {
                initial_identifier: address,
                nonce,
                initial_identifier_signature: Some(wallet_sig.clone()),
                initial_identifier_kind: pb::IdentifierKind::Ethereum as i32,
                relying_party: None,
            })),
            action(pb::identity_action::Kind::Add(pb::AddAssociation {
                new_member_identifier: Some(installation_member(&installation.public_key())),
                existing_member_signature: Some(wallet_sig),
                new_member_signature: Some(ed25519(installation, &text)),
                relying_party: None,
            })),
        ],
        client_timestamp_ns: ts,
        inbox_id,
    }
}

/// A wallet (member or recovery) adds one more installation.
pub fn add_installation(
    inbox_id: &str,
    wallet: &Wallet,
    installation: &InstallationKey,
    ts: u64,
) -> pb::IdentityUpdate {
    let placeholder = pb::Signature::default();
    let text = text_of(
        inbox_id,
        ts,
        vec![DecodedAction::Add {
            new_member: MemberId::Installation(installation.public_key().to_vec()),
            existing_signature: placeholder.clone(),
            new_signature: placeholder,
        }],
    );
    pb::IdentityUpdate {
        actions: vec![action(pb::identity_action::Kind::Add(pb::AddAssociation {
            new_member_identifier: Some(installation_member(&installation.public_key())),
            existing_member_signature: Some(erc191(wallet.sign_erc191(&text))),
            new_member_signature: Some(ed25519(installation, &text)),
            relying_party: None,
        }))],
        client_timestamp_ns: ts,
        inbox_id: inbox_id.to_string(),
    }
}

/// The recovery wallet revokes an installation.
pub fn revoke_installation(
    inbox_id: &str,
    recovery: &Wallet,
    installation_key: &[u8],
    ts: u64,
) -> pb::IdentityUpdate {
    let text = text_of(
        inbox_id,
        ts,
        vec![DecodedAction::Revoke {
            member: MemberId::Installation(installation_key.to_vec()),
            signature: pb::Signature::default(),
        }],
    );
    pb::IdentityUpdate {
        actions: vec![action(pb::identity_action::Kind::Revoke(
            pb::RevokeAssociation {
                member_to_revoke: Some(installation_member(installation_key)),
                recovery_identifier_signature: Some(erc191(recovery.sign_erc191(&text))),
            },
        ))],
        client_timestamp_ns: ts,
        inbox_id: inbox_id.to_string(),
    }
}

/// Bytes of an `IdentityUpdate` of `inbox_id` whose one action has a kind this codebase
/// does not know (oneof field 9, as a kind XMTP might add later). For tests and the devnet.
pub fn update_of_unknown_kind(inbox_id: &str, ts: u64) -> Vec<u8> {
    use prost::Message as _;
    // actions (field 1) = one IdentityAction holding field 9, length-delimited, empty.
    let mut bytes = vec![0x0a, 0x02, 0x4a, 0x00];
    bytes.extend(
        pb::IdentityUpdate {
            actions: vec![],
            client_timestamp_ns: ts,
            inbox_id: inbox_id.to_string(),
        }
        .encode_to_vec(),
    );
    bytes
}
