//! Installation-key signatures: Ed25519ph (RFC 8032, SHA-512 prehash) with a context
//! string, exactly `ed25519-dalek` 2.2's non-strict `verify_prehashed`, the code path the
//! XMTP SDK (libxmtp) runs. Non-strict means small-order public keys are accepted like
//! the SDK accepts them (vector `weak-key-identity`).

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};

/// Context of `signWithInstallationKey` / `verifySignedWithPublicKey` (DID signatures).
pub const PUBLIC_SIGNATURE_CONTEXT: &[u8] = b"PUBLIC SIGNATURE CONTEXT";
/// Context of installation signatures inside identity updates.
pub const IDENTITY_UPDATE_SIGNATURE_CONTEXT: &[u8] = b"IDENTITY UPDATE SIGNATURE";

/// Verifies an Ed25519ph signature over `text` under `context`. Length gates first (64-byte
/// signature, 32-byte key), then point decompression, canonical S, cofactorless equation.
pub fn verify_with_context(
    text: &[u8],
    signature: &[u8],
    public_key: &[u8],
    context: &[u8],
) -> bool {
    let Ok(pk) = <[u8; 32]>::try_from(public_key) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&pk) else {
        return false;
    };
    verify_with_key(text, signature, &key, context)
}

/// Like [`verify_with_context`] with an already decompressed key (cache it: decompression
/// is a good part of the cost).
pub fn verify_with_key(text: &[u8], signature: &[u8], key: &VerifyingKey, context: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    let sig = Signature::from_bytes(&sig);
    let mut prehash = Sha512::new();
    prehash.update(text);
    key.verify_prehashed(prehash, Some(context), &sig).is_ok()
}

/// The SDK's `verifySignedWithPublicKey(text, signatureBytes, publicKey)`.
pub fn verify_signed_with_public_key(text: &str, signature: &[u8], public_key: &[u8]) -> bool {
    verify_with_context(
        text.as_bytes(),
        signature,
        public_key,
        PUBLIC_SIGNATURE_CONTEXT,
    )
}

/// The reference check of an `org.xmtp.inbox` record against one installation key:
/// `verificationSignature` is decoded with our Node-compatible base64 policy.
pub fn verify_did_signature(did: &str, verification_signature: &str, public_key: &[u8]) -> bool {
    let sig = syntax::base64::node_base64_decode(verification_signature);
    verify_signed_with_public_key(did, &sig, public_key)
}

/// An installation key pair (for the devnet stand-in and tests).
#[derive(Clone)]
pub struct InstallationKey {
    key: SigningKey,
}

impl std::fmt::Debug for InstallationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InstallationKey({})", hex::encode(self.public_key()))
    }
}

impl InstallationKey {
    /// From a 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_seed(rand::random())
    }

    /// The 32-byte public key (= the installation id).
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `text` with Ed25519ph under `context`.
    pub fn sign_with_context(&self, text: &[u8], context: &[u8]) -> [u8; 64] {
        let mut prehash = Sha512::new();
        prehash.update(text);
        match self.key.sign_prehashed(prehash, Some(context)) {
            Ok(sig) => sig.to_bytes(),
            // Only fails for contexts longer than 255 bytes; ours are constants.
            Err(_) => self.key.sign(text).to_bytes(),
        }
    }

    /// The SDK's `signWithInstallationKey(text)`.
    pub fn sign_public(&self, text: &str) -> [u8; 64] {
        self.sign_with_context(text.as_bytes(), PUBLIC_SIGNATURE_CONTEXT)
    }

    /// A record's `verificationSignature` for `did` (standard base64).
    pub fn sign_did(&self, did: &str) -> String {
        syntax::base64::encode_standard(&self.sign_public(did))
    }

    /// Signs an identity-update text.
    pub fn sign_identity_update(&self, text: &str) -> [u8; 64] {
        self.sign_with_context(text.as_bytes(), IDENTITY_UPDATE_SIGNATURE_CONTEXT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_did_signature_verifies_only_under_the_public_context() {
        let key = InstallationKey::from_seed([7; 32]);
        let sig = key.sign_public("did:plc:abc");
        assert!(verify_signed_with_public_key(
            "did:plc:abc",
            &sig,
            &key.public_key()
        ));
        let other = key.sign_identity_update("did:plc:abc");
        assert!(!verify_signed_with_public_key(
            "did:plc:abc",
            &other,
            &key.public_key()
        ));
        assert!(verify_did_signature(
            "did:plc:abc",
            &key.sign_did("did:plc:abc"),
            &key.public_key()
        ));
    }
}
