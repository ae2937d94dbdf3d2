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
    /// A nonce below zero (the SDK: "`nonce` must be non-negative").
    #[error("nonce must be non-negative")]
    NegativeNonce,
    /// A nonce above `u64::MAX` (the SDK: "`nonce` is too large").
    #[error("nonce is too large (above 2^64 - 1)")]
    NonceTooLarge,
    /// A nonce that is not a decimal integer.
    #[error("nonce is not a decimal integer")]
    InvalidNonce,
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

/// Parses a decimal nonce as the SDK's `generateInboxId` accepts it: an integer from 0 to
/// `u64::MAX`, refused with the SDK's reason otherwise.
pub fn parse_nonce(s: &str) -> Result<u64, InboxIdError> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InboxIdError::InvalidNonce);
    }
    if s.starts_with('-') {
        return if digits.bytes().all(|b| b == b'0') {
            Ok(0)
        } else {
            Err(InboxIdError::NegativeNonce)
        };
    }
    digits.parse().map_err(|_| InboxIdError::NonceTooLarge)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_outside_u64_are_refused_for_their_reason() {
        assert_eq!(parse_nonce("0"), Ok(0));
        assert_eq!(parse_nonce("-0"), Ok(0));
        assert_eq!(parse_nonce("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_nonce("18446744073709551616"),
            Err(InboxIdError::NonceTooLarge)
        );
        assert_eq!(parse_nonce("-1"), Err(InboxIdError::NegativeNonce));
        for bad in ["", "-", "1.0", " 1", "0x1", "+1"] {
            assert_eq!(parse_nonce(bad), Err(InboxIdError::InvalidNonce), "{bad:?}");
        }
    }
}
