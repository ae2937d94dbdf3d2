//! atproto signing keys: K-256 (secp256k1) and P-256, parsed from did:key, Multikey
//! `publicKeyMultibase` or the legacy uncompressed multibase form; ECDSA over SHA-256 with
//! 64-byte `r ‖ s` signatures and **low-S mandatory on both curves** (the `p256` crate
//! accepts high-S, so we check explicitly). DER signatures are rejected by length.
//!
//! K-256 signatures are verified with libsecp256k1 (the `secp256k1` crate, bundled C):
//! about twice as fast as `k256` on this path (see BENCHMARKS.md), and verification of
//! tracked repos' commits is the ingest's hottest CPU cost. Keys and signatures are still
//! parsed and range-checked with `k256` first, so what is accepted, and the reason for a
//! rejection, are exactly as before; `k256` also still signs (devnet, tests).

use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};

use crate::cid_util::sha256;

/// Multicodec varint prefix of a secp256k1 public key (0xe7).
const K256_PREFIX: [u8; 2] = [0xe7, 0x01];
/// Multicodec varint prefix of a P-256 public key (0x1200).
const P256_PREFIX: [u8; 2] = [0x80, 0x24];

/// Which curve a key is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// secp256k1 (JWT alg ES256K).
    K256,
    /// NIST P-256 (JWT alg ES256).
    P256,
}

/// Key parsing and signature errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a `did:key:z...` string.
    #[error("not a did:key")]
    NotDidKey,
    /// Multibase decoding failed or the encoding is not base58btc (`z`).
    #[error("bad multibase: {0}")]
    Multibase(String),
    /// Unknown or missing multicodec prefix.
    #[error("unsupported key multicodec")]
    UnsupportedCodec,
    /// The point is not a valid SEC1 point on the curve.
    #[error("invalid public key point")]
    InvalidPoint,
    /// Private key bytes are not a valid scalar.
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// The signature is not 64 bytes (DER signatures land here).
    #[error("signature must be 64 bytes (r||s), got {0}")]
    SignatureLength(usize),
    /// r or s is zero or not below the group order.
    #[error("malformed signature scalars")]
    SignatureMalformed,
    /// s is above n/2.
    #[error("high-S signature")]
    HighS,
    /// The signature does not verify with this key.
    #[error("signature does not verify")]
    BadSignature,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PublicInner {
    K256(secp256k1::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
}

/// A parsed public key. Cheap to clone (no heap), parse once and cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(PublicInner);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.did_key())
    }
}

fn decode_z58(s: &str) -> Result<Vec<u8>, KeyError> {
    let (base, bytes) = multibase::decode(s).map_err(|e| KeyError::Multibase(e.to_string()))?;
    if base != multibase::Base::Base58Btc {
        return Err(KeyError::Multibase("not base58btc".into()));
    }
    Ok(bytes)
}

/// The libsecp256k1 form of a `k256` key (validated by `k256`, so libsecp256k1's wider
/// SEC1 parser, e.g. hybrid `0x06`/`0x07` points, never sees untrusted bytes).
fn k256_to_secp(k: &k256::ecdsa::VerifyingKey) -> Result<secp256k1::PublicKey, KeyError> {
    secp256k1::PublicKey::from_slice(k.to_encoded_point(true).as_bytes())
        .map_err(|_| KeyError::InvalidPoint)
}

impl PublicKey {
    /// Parses SEC1 bytes (compressed or uncompressed) on `curve`.
    pub fn from_sec1(curve: Curve, bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(PublicKey(match curve {
            Curve::K256 => PublicInner::K256(k256_to_secp(
                &k256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                    .map_err(|_| KeyError::InvalidPoint)?,
            )?),
            Curve::P256 => PublicInner::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                    .map_err(|_| KeyError::InvalidPoint)?,
            ),
        }))
    }

    /// Parses multicodec-prefixed key bytes (`0xe7 0x01` or `0x80 0x24`, then SEC1).
    pub fn from_multicodec(bytes: &[u8]) -> Result<Self, KeyError> {
        match bytes.split_at_checked(2) {
            Some((p, rest)) if p == K256_PREFIX => Self::from_sec1(Curve::K256, rest),
            Some((p, rest)) if p == P256_PREFIX => Self::from_sec1(Curve::P256, rest),
            _ => Err(KeyError::UnsupportedCodec),
        }
    }

    /// Parses a Multikey `publicKeyMultibase` (`z` + base58btc(multicodec ‖ point)).
    pub fn from_multibase(s: &str) -> Result<Self, KeyError> {
        Self::from_multicodec(&decode_z58(s)?)
    }

    /// Parses a legacy `publicKeyMultibase` (base58btc of a SEC1 point, no multicodec); the
    /// curve comes from the verification method type.
    pub fn from_legacy_multibase(curve: Curve, s: &str) -> Result<Self, KeyError> {
        Self::from_sec1(curve, &decode_z58(s)?)
    }

    /// Parses `did:key:z...`.
    pub fn from_did_key(s: &str) -> Result<Self, KeyError> {
        let rest = s.strip_prefix("did:key:").ok_or(KeyError::NotDidKey)?;
        if !rest.starts_with('z') {
            return Err(KeyError::NotDidKey);
        }
        Self::from_multibase(rest)
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        match self.0 {
            PublicInner::K256(_) => Curve::K256,
            PublicInner::P256(_) => Curve::P256,
        }
    }

    /// The 33-byte compressed SEC1 point.
    pub fn to_compressed(&self) -> Vec<u8> {
        match &self.0 {
            PublicInner::K256(k) => k.serialize().to_vec(),
            PublicInner::P256(k) => k.to_encoded_point(true).as_bytes().to_vec(),
        }
    }

    /// The Multikey `publicKeyMultibase` string.
    pub fn multibase(&self) -> String {
        let prefix = match self.curve() {
            Curve::K256 => K256_PREFIX,
            Curve::P256 => P256_PREFIX,
        };
        let bytes = [prefix.as_slice(), &self.to_compressed()].concat();
        multibase::encode(multibase::Base::Base58Btc, bytes)
    }

    /// The `did:key:` form.
    pub fn did_key(&self) -> String {
        format!("did:key:{}", self.multibase())
    }

    /// Verifies a 64-byte `r ‖ s` signature over SHA-256(`msg`).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        self.verify_prehash(&sha256(msg), sig)
    }

    /// Verifies a 64-byte `r ‖ s` signature over an already computed SHA-256 digest.
    pub fn verify_prehash(&self, digest: &[u8; 32], sig: &[u8]) -> Result<(), KeyError> {
        if sig.len() != 64 {
            return Err(KeyError::SignatureLength(sig.len()));
        }
        match &self.0 {
            PublicInner::K256(k) => {
                let s = k256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| KeyError::SignatureMalformed)?;
                if s.normalize_s().is_some() {
                    return Err(KeyError::HighS);
                }
                // r and s are in range and s is low: libsecp256k1 parses exactly these.
                let s = secp256k1::ecdsa::Signature::from_compact(sig)
                    .map_err(|_| KeyError::SignatureMalformed)?;
                let msg = secp256k1::Message::from_digest(*digest);
                secp256k1::SECP256K1
                    .verify_ecdsa(msg, &s, k)
                    .map_err(|_| KeyError::BadSignature)
            }
            PublicInner::P256(k) => {
                let s = p256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| KeyError::SignatureMalformed)?;
                if s.normalize_s().is_some() {
                    return Err(KeyError::HighS);
                }
                k.verify_prehash(digest, &s)
                    .map_err(|_| KeyError::BadSignature)
            }
        }
    }
}

#[derive(Clone)]
enum PrivateInner {
    K256(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A private signing key (devnet PDS, tests). Signs deterministically (RFC 6979), low-S.
#[derive(Clone)]
pub struct PrivateKey(PrivateInner);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.did_key())
    }
}

impl PrivateKey {
    /// A fresh random key from the OS RNG.
    pub fn generate(curve: Curve) -> Self {
        let mut rng = k256::elliptic_curve::rand_core::OsRng;
        PrivateKey(match curve {
            Curve::K256 => PrivateInner::K256(k256::ecdsa::SigningKey::random(&mut rng)),
            Curve::P256 => PrivateInner::P256(p256::ecdsa::SigningKey::random(&mut rng)),
        })
    }

    /// From the 32-byte big-endian scalar.
    pub fn from_bytes(curve: Curve, bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(PrivateKey(match curve {
            Curve::K256 => PrivateInner::K256(
                k256::ecdsa::SigningKey::from_slice(bytes)
                    .map_err(|_| KeyError::InvalidPrivateKey)?,
            ),
            Curve::P256 => PrivateInner::P256(
                p256::ecdsa::SigningKey::from_slice(bytes)
                    .map_err(|_| KeyError::InvalidPrivateKey)?,
            ),
        }))
    }

    /// The 32-byte scalar.
    pub fn to_bytes(&self) -> [u8; 32] {
        match &self.0 {
            PrivateInner::K256(k) => k.to_bytes().into(),
            PrivateInner::P256(k) => k.to_bytes().into(),
        }
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        match self.0 {
            PrivateInner::K256(_) => Curve::K256,
            PrivateInner::P256(_) => Curve::P256,
        }
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(match &self.0 {
            // A signing key's public point is valid on the curve: the conversion cannot fail.
            PrivateInner::K256(k) => match k256_to_secp(k.verifying_key()) {
                Ok(p) => PublicInner::K256(p),
                Err(_) => unreachable!("a k256 public key is a valid secp256k1 point"),
            },
            PrivateInner::P256(k) => PublicInner::P256(*k.verifying_key()),
        })
    }

    /// The public key's `did:key:`.
    pub fn did_key(&self) -> String {
        self.public_key().did_key()
    }

    /// Signs SHA-256(`msg`), returning 64 bytes `r ‖ s` with low S.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.sign_prehash(&sha256(msg))
    }

    /// Signs a SHA-256 digest, returning 64 bytes `r ‖ s` with low S.
    pub fn sign_prehash(&self, digest: &[u8; 32]) -> [u8; 64] {
        let mut out = [0u8; 64];
        // Signing a 32-byte prehash with a valid key only fails with negligible probability
        // (a zero nonce); an all-zero signature then simply fails verification.
        match &self.0 {
            PrivateInner::K256(k) => {
                let r: Result<k256::ecdsa::Signature, _> = k.sign_prehash(digest);
                if let Ok(s) = r {
                    out.copy_from_slice(&s.normalize_s().unwrap_or(s).to_bytes());
                }
            }
            PrivateInner::P256(k) => {
                let r: Result<p256::ecdsa::Signature, _> = k.sign_prehash(digest);
                if let Ok(s) = r {
                    out.copy_from_slice(&s.normalize_s().unwrap_or(s).to_bytes());
                }
            }
        }
        out
    }
}
