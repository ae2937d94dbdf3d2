//! Inbox id derivation: `lowercase_hex(SHA-256(display(identifier) ++ decimal(nonce)))`
//! (`docs/xmtp-identity.md` §2) and the syntax check of a record's `id`.

use sha2::{Digest, Sha256};

/// Why an identifier cannot derive an inbox id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxIdError {
    /// Not `0x` + 40 hex digits.
    #[error("invalid account address: must be 42 hex characters, starting with '0x'")]
    InvalidAccountAddress,
    /// Passkey identifier is not hex.
    #[error("passkey identifier is not valid hex")]
    InvalidPasskeyHex,
}

/// The kind of identifier an inbox is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierKind {
    /// An Ethereum address.
    Ethereum,
    /// A passkey public key (hex).
    Passkey,
}

/// `0x` + 40 hex digits (either case).
pub fn is_valid_address(s: &str) -> bool {
    s.len() == 42 && s.starts_with("0x") && s.as_bytes()[2..].iter().all(u8::is_ascii_hexdigit)
}

/// SHA-256 hex of `preimage ++ decimal(nonce)`, with no validation of `preimage`.
pub fn inbox_id_raw(preimage: &str, nonce: u64) -> String {
    let mut h = Sha256::new();
    h.update(preimage.as_bytes());
    h.update(nonce.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// The SDK's `generateInboxId(identifier, nonce)`: Ethereum addresses are lower-cased
/// (EIP-55 and lower-case give the same inbox); passkey hex is re-encoded lower-case.
pub fn generate_inbox_id(
    identifier: &str,
    kind: IdentifierKind,
    nonce: u64,
) -> Result<String, InboxIdError> {
    match kind {
        IdentifierKind::Ethereum => {
            if !is_valid_address(identifier) {
                return Err(InboxIdError::InvalidAccountAddress);
            }
            Ok(inbox_id_raw(&identifier.to_ascii_lowercase(), nonce))
        }
        IdentifierKind::Passkey => {
            let h = identifier.strip_prefix("0x").unwrap_or(identifier);
            let bytes = hex::decode(h).map_err(|_| InboxIdError::InvalidPasskeyHex)?;
            Ok(inbox_id_raw(&hex::encode(bytes), nonce))
        }
    }
}

/// Inside identity updates an Ethereum identifier is used as received (no lower-casing),
/// but it must still be a valid address (libxmtp's `Identifier::inbox_id`).
pub fn inbox_id_verbatim_eth(identifier: &str, nonce: u64) -> Result<String, InboxIdError> {
    if !is_valid_address(identifier) {
        return Err(InboxIdError::InvalidAccountAddress);
    }
    Ok(inbox_id_raw(identifier, nonce))
}

/// A record's `id` must be 64 lower-case hex characters.
pub fn is_valid_inbox_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
