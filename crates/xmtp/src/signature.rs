//! Verifying one identity-update signature over the update's text
//! (`docs/xmtp-identity.md` §4.3), yielding its signer, kind, replay bytes and chain id.

use crate::installation::{IDENTITY_UPDATE_SIGNATURE_CONTEXT, verify_with_context};
use crate::model::{DecodeError, MemberId, SignatureKind};
use crate::proto::associations as pb;
use crate::proto::message_contents as mc;
use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, VerifyingKey};
use sha3::{Digest, Keccak256};
use std::collections::HashMap;

/// A verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Who signed.
    pub signer: MemberId,
    /// How.
    pub kind: SignatureKind,
    /// The bytes used for replay detection.
    pub raw: Vec<u8>,
    /// The chain of a smart-contract wallet signature.
    pub chain_id: Option<u64>,
}

/// Why a signature does not verify. Every variant is evidence that the log is invalid,
/// except [`SignatureError::SmartContractWalletUnchecked`] and
/// [`SignatureError::SmartContractWalletError`]: those say the signature could not be
/// checked (see [`SignatureError::is_evidence`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// ECDSA signature is not 65 bytes.
    #[error("expected exactly 65 bytes")]
    EcdsaLength,
    /// Bad recovery byte, scalar out of range or recovery failed.
    #[error("ecdsa signature invalid")]
    Ecdsa,
    /// Ed25519ph verification failed.
    #[error("ed25519 signature invalid")]
    Ed25519,
    /// The legacy delegated key is malformed or mismatched.
    #[error("legacy delegated signature invalid: {0}")]
    Legacy(&'static str),
    /// The passkey assertion is invalid.
    #[error("passkey signature invalid: {0}")]
    Passkey(&'static str),
    /// The network said the smart-contract wallet signature is invalid.
    #[error("smart contract wallet signature invalid")]
    SmartContractWallet,
    /// No network answer was supplied for a smart-contract wallet signature.
    #[error("smart contract wallet signature not checked")]
    SmartContractWalletUnchecked,
    /// The network could not check a smart-contract wallet signature (its answer carried an
    /// `error`, e.g. the node's chain RPC failed): not evidence either way.
    #[error("smart contract wallet signature could not be checked: {0}")]
    SmartContractWalletError(String),
    /// Malformed CAIP-10 id.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl SignatureError {
    /// Whether this failure is evidence against the signature (`false`: it was not checked).
    pub fn is_evidence(&self) -> bool {
        !matches!(
            self,
            SignatureError::SmartContractWalletUnchecked
                | SignatureError::SmartContractWalletError(_)
                | SignatureError::Decode(_)
        )
    }
}

/// A smart-contract-wallet check to ask the network for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScwRequest {
    /// CAIP-10 account id.
    pub account_id: String,
    /// Block number from the signature.
    pub block_number: u64,
    /// Signature bytes.
    pub signature: Vec<u8>,
    /// EIP-191 hash of the update text.
    pub hash: [u8; 32],
}

/// The network's answer to one [`ScwRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScwVerdict {
    /// The chain says the signature is valid.
    Valid,
    /// The chain says the signature is invalid (evidence).
    Invalid,
    /// The node could not check it (its answer's `error` field): not evidence.
    Error(String),
}

impl ScwVerdict {
    /// From a `ValidationResponse`: a non-empty `error` wins over `is_valid`, so a node that
    /// failed to reach its chain never decides either way.
    pub fn from_response(is_valid: bool, error: Option<&str>) -> Self {
        match error {
            Some(e) if !e.trim().is_empty() => ScwVerdict::Error(e.chars().take(200).collect()),
            _ if is_valid => ScwVerdict::Valid,
            _ => ScwVerdict::Invalid,
        }
    }
}

impl From<bool> for ScwVerdict {
    fn from(valid: bool) -> Self {
        if valid {
            ScwVerdict::Valid
        } else {
            ScwVerdict::Invalid
        }
    }
}

/// Network answers to [`ScwRequest`]s.
pub type ScwResults = HashMap<ScwRequest, ScwVerdict>;

/// `keccak256("\x19Ethereum Signed Message:\n" ++ len ++ text)`.
pub fn eip191_hash(text: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(b"\x19Ethereum Signed Message:\n");
    h.update(text.len().to_string().as_bytes());
    h.update(text);
    h.finalize().into()
}

/// Lower-case `0x` address of a secp256k1 key.
pub fn eth_address(key: &VerifyingKey) -> String {
    let point = key.to_encoded_point(false);
    let hash = Keccak256::digest(&point.as_bytes()[1..]);
    format!("0x{}", hex::encode(&hash[12..]))
}

/// EIP-191 recovery as libxmtp does it: exactly 65 bytes `r || s || v`; `s` normalised to
/// low-s WITHOUT adjusting `v`; `v` in {0, 1, 27, 28}. Returns the lower-case address and
/// the normalised bytes (the replay key).
pub fn recover_erc191(text: &[u8], bytes: &[u8]) -> Result<(String, Vec<u8>), SignatureError> {
    let (key, raw) = recover_hash(&eip191_hash(text), bytes)?;
    Ok((eth_address(&key), raw))
}

/// The lower-case address that signed the 32-byte `hash` (65 bytes `r || s || v`, the same
/// rules as [`recover_erc191`]). The devnet's simulated ERC-1271 wallets check their
/// owner's signature with it.
pub fn recover_hash_signer(hash: &[u8; 32], bytes: &[u8]) -> Result<String, SignatureError> {
    recover_hash(hash, bytes).map(|(key, _)| eth_address(&key))
}

/// Recovery over a prehash; returns the key and the normalised bytes (the replay key).
fn recover_hash(hash: &[u8; 32], bytes: &[u8]) -> Result<(VerifyingKey, Vec<u8>), SignatureError> {
    let bytes: [u8; 65] = bytes.try_into().map_err(|_| SignatureError::EcdsaLength)?;
    let sig = EcdsaSignature::from_slice(&bytes[..64]).map_err(|_| SignatureError::Ecdsa)?;
    let sig = sig.normalize_s().unwrap_or(sig);
    let parity = match bytes[64] {
        0 | 27 => 0,
        1 | 28 => 1,
        _ => return Err(SignatureError::Ecdsa),
    };
    let recid = RecoveryId::from_byte(parity).ok_or(SignatureError::Ecdsa)?;
    let key = recover_prehash(hash, &sig, recid).ok_or(SignatureError::Ecdsa)?;
    let mut raw = sig.to_bytes().to_vec();
    raw.push(bytes[64]);
    Ok((key, raw))
}

/// Public-key recovery, `Q = r⁻¹(s·R − z·G)`: the same arithmetic as ecdsa's
/// `recover_from_prehash`, minus its redundant re-verification of the signature under the
/// recovered key (which cannot fail once recovery succeeded); this halves the cost.
fn recover_prehash(
    prehash: &[u8; 32],
    sig: &EcdsaSignature,
    recid: RecoveryId,
) -> Option<VerifyingKey> {
    use k256::elliptic_curve::ff::PrimeField as _;
    use k256::elliptic_curve::ops::LinearCombination as _;
    use k256::elliptic_curve::point::DecompressPoint as _;
    use k256::{AffinePoint, ProjectivePoint, Scalar, U256};
    let (r, s) = sig.split_scalars();
    let z = <Scalar as k256::elliptic_curve::ops::Reduce<U256>>::reduce_bytes(&(*prehash).into());
    let big_r = AffinePoint::decompress(&r.to_repr(), u8::from(recid.is_y_odd()).into());
    let big_r = ProjectivePoint::from(Option::<AffinePoint>::from(big_r)?);
    let r_inv = Option::<Scalar>::from(r.invert())?;
    let u1 = -(r_inv * z);
    let u2 = r_inv * *s;
    let q = ProjectivePoint::lincomb(&ProjectivePoint::GENERATOR, &u1, &big_r, &u2);
    VerifyingKey::from_affine(q.to_affine()).ok()
}

/// Parses `eip155:<chain>:<address>` into (chain id, lower-case address).
pub fn parse_caip10(account_id: &str) -> Result<(u64, String), DecodeError> {
    let bad = || DecodeError::InvalidAccountId(account_id.to_string());
    let mut parts = account_id.split(':');
    let (Some(ns), Some(chain), Some(addr), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if ns.is_empty() || addr.is_empty() {
        return Err(bad());
    }
    let chain: u64 = chain.parse().map_err(|_| bad())?;
    Ok((chain, addr.to_ascii_lowercase()))
}

/// The smart-contract-wallet request a signature needs, if it is one.
pub fn scw_request(text: &str, sig: &pb::Signature) -> Option<ScwRequest> {
    match &sig.signature {
        Some(pb::signature::Signature::Erc6492(w)) => Some(ScwRequest {
            account_id: w.account_id.clone(),
            block_number: w.block_number,
            signature: w.signature.clone(),
            hash: eip191_hash(text.as_bytes()),
        }),
        _ => None,
    }
}

const LEGACY_TEXT_HEAD: &str = "XMTP : Create Identity\n";
const LEGACY_TEXT_TAIL: &str = "\n\nFor more info: https://xmtp.org/signatures/";

fn verify_legacy(
    text: &str,
    d: &pb::LegacyDelegatedSignature,
) -> Result<VerifiedSignature, SignatureError> {
    use prost::Message as _;
    let key = d
        .delegated_key
        .as_ref()
        .ok_or(SignatureError::Legacy("no delegated key"))?;
    let update_sig = d
        .signature
        .as_ref()
        .ok_or(SignatureError::Legacy("no signature"))?;
    // (a) the wallet signed the v2 key.
    let wallet = match key.signature.as_ref().and_then(|s| s.union.as_ref()) {
        Some(mc::signature::Union::EcdsaCompact(c))
        | Some(mc::signature::Union::WalletEcdsaCompact(c)) => c,
        None => return Err(SignatureError::Legacy("no wallet signature")),
    };
    let v = u8::try_from(wallet.recovery).map_err(|_| SignatureError::Legacy("recovery id"))?;
    let mut wallet_bytes = wallet.bytes.clone();
    wallet_bytes.push(v);
    let legacy_text = format!(
        "{LEGACY_TEXT_HEAD}{}{LEGACY_TEXT_TAIL}",
        hex::encode(&key.key_bytes)
    );
    let (account, wallet_raw) = recover_erc191(legacy_text.as_bytes(), &wallet_bytes)?;
    // (b) the v2 key signed the update.
    let unsigned = mc::UnsignedPublicKey::decode(key.key_bytes.as_slice())
        .map_err(|_| SignatureError::Legacy("key bytes"))?;
    let Some(mc::unsigned_public_key::Union::Secp256k1Uncompressed(pk)) = unsigned.union else {
        return Err(SignatureError::Legacy("no secp256k1 key"));
    };
    let pk =
        VerifyingKey::from_sec1_bytes(&pk.bytes).map_err(|_| SignatureError::Legacy("bad key"))?;
    let (signer, _) = recover_erc191(text.as_bytes(), &update_sig.bytes)?;
    if signer != eth_address(&pk) {
        return Err(SignatureError::Legacy("key mismatch"));
    }
    Ok(VerifiedSignature {
        signer: MemberId::Ethereum(account),
        kind: SignatureKind::LegacyDelegated,
        raw: wallet_raw,
        chain_id: None,
    })
}

fn verify_passkey(
    text: &str,
    p: &pb::RecoverablePasskeySignature,
) -> Result<VerifiedSignature, SignatureError> {
    use base64::Engine as _;
    use p256::ecdsa::signature::Verifier as _;
    #[derive(serde::Deserialize)]
    struct ClientData {
        origin: String,
        challenge: String,
    }
    let data: ClientData = serde_json::from_slice(&p.client_data_json)
        .map_err(|_| SignatureError::Passkey("client data"))?;
    if data.challenge != base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text) {
        return Err(SignatureError::Passkey("challenge"));
    }
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&p.public_key)
        .map_err(|_| SignatureError::Passkey("public key"))?;
    let sig = p256::ecdsa::Signature::from_der(&p.signature)
        .map_err(|_| SignatureError::Passkey("der"))?;
    let mut msg = p.authenticator_data.clone();
    msg.extend_from_slice(&sha2::Sha256::digest(&p.client_data_json));
    key.verify(&msg, &sig)
        .map_err(|_| SignatureError::Passkey("verify"))?;
    let _ = data.origin;
    Ok(VerifiedSignature {
        signer: MemberId::Passkey(p.public_key.clone()),
        kind: SignatureKind::P256,
        raw: sig.normalize_s().unwrap_or(sig).to_vec(),
        chain_id: None,
    })
}

/// Verifies `sig` over `text`. Smart-contract-wallet signatures are looked up in `scw`.
pub fn verify_signature(
    text: &str,
    sig: &pb::Signature,
    scw: &ScwResults,
) -> Result<VerifiedSignature, SignatureError> {
    use pb::signature::Signature as S;
    match &sig.signature {
        Some(S::Erc191(e)) => {
            let (addr, raw) = recover_erc191(text.as_bytes(), &e.bytes)?;
            Ok(VerifiedSignature {
                signer: MemberId::Ethereum(addr),
                kind: SignatureKind::Erc191,
                raw,
                chain_id: None,
            })
        }
        Some(S::InstallationKey(k)) => {
            if !verify_with_context(
                text.as_bytes(),
                &k.bytes,
                &k.public_key,
                IDENTITY_UPDATE_SIGNATURE_CONTEXT,
            ) {
                return Err(SignatureError::Ed25519);
            }
            Ok(VerifiedSignature {
                signer: MemberId::Installation(k.public_key.clone()),
                kind: SignatureKind::InstallationKey,
                raw: k.bytes.clone(),
                chain_id: None,
            })
        }
        Some(S::Erc6492(w)) => {
            let (chain, addr) = parse_caip10(&w.account_id)?;
            let req = scw_request(text, sig).ok_or(SignatureError::SmartContractWalletUnchecked)?;
            match scw.get(&req) {
                Some(ScwVerdict::Valid) => Ok(VerifiedSignature {
                    signer: MemberId::Ethereum(addr),
                    kind: SignatureKind::Erc1271,
                    raw: w.signature.clone(),
                    chain_id: Some(chain),
                }),
                Some(ScwVerdict::Invalid) => Err(SignatureError::SmartContractWallet),
                Some(ScwVerdict::Error(e)) => {
                    Err(SignatureError::SmartContractWalletError(e.clone()))
                }
                None => Err(SignatureError::SmartContractWalletUnchecked),
            }
        }
        Some(S::DelegatedErc191(d)) => verify_legacy(text, d),
        Some(S::Passkey(p)) => verify_passkey(text, p),
        None => Err(SignatureError::Decode(DecodeError::Missing("signature"))),
    }
}
