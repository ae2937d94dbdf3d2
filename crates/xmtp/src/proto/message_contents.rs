//! `xmtp.message_contents`: the legacy (XMTP v2) signed public key carried by
//! `LegacyDelegatedSignature`.

/// `xmtp.message_contents.SignedPublicKey`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedPublicKey {
    /// An encoded [`UnsignedPublicKey`]; the wallet signed these exact bytes (as hex text).
    #[prost(bytes = "vec", tag = "1")]
    pub key_bytes: Vec<u8>,
    /// The wallet's signature over the "XMTP : Create Identity" text.
    #[prost(message, optional, tag = "2")]
    pub signature: Option<Signature>,
}

/// `xmtp.message_contents.UnsignedPublicKey`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UnsignedPublicKey {
    /// Creation time, nanoseconds.
    #[prost(uint64, tag = "1")]
    pub created_ns: u64,
    /// The key material.
    #[prost(oneof = "unsigned_public_key::Union", tags = "3")]
    pub union: Option<unsigned_public_key::Union>,
}

/// Nested types of [`UnsignedPublicKey`].
pub mod unsigned_public_key {
    /// `UnsignedPublicKey.union`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Union {
        /// An uncompressed SEC1 secp256k1 key.
        #[prost(message, tag = "3")]
        Secp256k1Uncompressed(super::Secp256k1Uncompressed),
    }
}

/// `xmtp.message_contents.UnsignedPublicKey.Secp256k1Uncompressed`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Secp256k1Uncompressed {
    /// 65 bytes, `04 || x || y`.
    #[prost(bytes = "vec", tag = "1")]
    pub bytes: Vec<u8>,
}

/// `xmtp.message_contents.Signature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Signature {
    /// The signature kind.
    #[prost(oneof = "signature::Union", tags = "1, 2")]
    pub union: Option<signature::Union>,
}

/// Nested types of [`Signature`].
pub mod signature {
    /// `Signature.union`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Union {
        /// A key's own signature.
        #[prost(message, tag = "1")]
        EcdsaCompact(super::EcdsaCompact),
        /// A wallet's (EIP-191) signature.
        #[prost(message, tag = "2")]
        WalletEcdsaCompact(super::EcdsaCompact),
    }
}

/// `ECDSACompact` / `WalletECDSACompact` (same shape).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EcdsaCompact {
    /// `r || s`, 64 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub bytes: Vec<u8>,
    /// The recovery id.
    #[prost(uint32, tag = "2")]
    pub recovery: u32,
}
