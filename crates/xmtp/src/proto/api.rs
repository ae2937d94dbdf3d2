//! `xmtp.identity.api.v1`: the v3 node's `IdentityApi` request and response messages, and
//! the gRPC method paths.

use super::associations::IdentityUpdate;

/// gRPC path of `GetIdentityUpdates`.
pub const PATH_GET_IDENTITY_UPDATES: &str = "/xmtp.identity.api.v1.IdentityApi/GetIdentityUpdates";
/// gRPC path of `GetInboxIds`.
pub const PATH_GET_INBOX_IDS: &str = "/xmtp.identity.api.v1.IdentityApi/GetInboxIds";
/// gRPC path of `VerifySmartContractWalletSignatures`.
pub const PATH_VERIFY_SCW: &str =
    "/xmtp.identity.api.v1.IdentityApi/VerifySmartContractWalletSignatures";
/// gRPC path of `PublishIdentityUpdate`.
pub const PATH_PUBLISH_IDENTITY_UPDATE: &str =
    "/xmtp.identity.api.v1.IdentityApi/PublishIdentityUpdate";
/// The fully qualified service name.
pub const SERVICE_NAME: &str = "xmtp.identity.api.v1.IdentityApi";

/// `GetIdentityUpdatesRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetIdentityUpdatesRequest {
    /// One entry per inbox.
    #[prost(message, repeated, tag = "1")]
    pub requests: Vec<get_identity_updates_request::Request>,
}

/// Nested types of [`GetIdentityUpdatesRequest`].
pub mod get_identity_updates_request {
    /// `GetIdentityUpdatesRequest.Request`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Request {
        /// The inbox.
        #[prost(string, tag = "1")]
        pub inbox_id: String,
        /// The last sequence id the caller already has (0 = from the start).
        #[prost(uint64, tag = "2")]
        pub sequence_id: u64,
    }
}

/// `GetIdentityUpdatesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetIdentityUpdatesResponse {
    /// One entry per requested inbox.
    #[prost(message, repeated, tag = "1")]
    pub responses: Vec<get_identity_updates_response::Response>,
}

/// Nested types of [`GetIdentityUpdatesResponse`].
pub mod get_identity_updates_response {
    use super::IdentityUpdate;

    /// `GetIdentityUpdatesResponse.Response`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Response {
        /// The inbox.
        #[prost(string, tag = "1")]
        pub inbox_id: String,
        /// Its log entries after the requested sequence id, in order.
        #[prost(message, repeated, tag = "2")]
        pub updates: Vec<IdentityUpdateLog>,
    }

    /// `GetIdentityUpdatesResponse.IdentityUpdateLog`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct IdentityUpdateLog {
        /// Position in the inbox log.
        #[prost(uint64, tag = "1")]
        pub sequence_id: u64,
        /// Server clock.
        #[prost(uint64, tag = "2")]
        pub server_timestamp_ns: u64,
        /// The signed update.
        #[prost(message, optional, tag = "3")]
        pub update: Option<IdentityUpdate>,
    }

    /// Same wire shape as [`Response`], but keeps each update as raw bytes so that one
    /// malformed update poisons only its own inbox, not the whole batch (client side).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RawResponse {
        /// The inbox.
        #[prost(string, tag = "1")]
        pub inbox_id: String,
        /// Its log entries.
        #[prost(message, repeated, tag = "2")]
        pub updates: Vec<RawIdentityUpdateLog>,
    }

    /// Same wire shape as [`IdentityUpdateLog`] with the update left encoded.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RawIdentityUpdateLog {
        /// Position in the inbox log.
        #[prost(uint64, tag = "1")]
        pub sequence_id: u64,
        /// Server clock.
        #[prost(uint64, tag = "2")]
        pub server_timestamp_ns: u64,
        /// The encoded `IdentityUpdate`.
        #[prost(bytes = "vec", tag = "3")]
        pub update: Vec<u8>,
    }
}

/// Wire-compatible with [`GetIdentityUpdatesResponse`], updates left encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawGetIdentityUpdatesResponse {
    /// One entry per requested inbox.
    #[prost(message, repeated, tag = "1")]
    pub responses: Vec<get_identity_updates_response::RawResponse>,
}

/// `GetInboxIdsRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetInboxIdsRequest {
    /// Identifiers to look up.
    #[prost(message, repeated, tag = "1")]
    pub requests: Vec<get_inbox_ids_request::Request>,
}

/// Nested types of [`GetInboxIdsRequest`].
pub mod get_inbox_ids_request {
    /// `GetInboxIdsRequest.Request`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Request {
        /// Address or passkey hex.
        #[prost(string, tag = "1")]
        pub identifier: String,
        /// Its kind.
        #[prost(enumeration = "crate::proto::associations::IdentifierKind", tag = "2")]
        pub identifier_kind: i32,
    }
}

/// `GetInboxIdsResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetInboxIdsResponse {
    /// One per requested identifier.
    #[prost(message, repeated, tag = "1")]
    pub responses: Vec<get_inbox_ids_response::Response>,
}

/// Nested types of [`GetInboxIdsResponse`].
pub mod get_inbox_ids_response {
    /// `GetInboxIdsResponse.Response`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Response {
        /// The identifier asked about.
        #[prost(string, tag = "1")]
        pub identifier: String,
        /// Its inbox, if any.
        #[prost(string, optional, tag = "2")]
        pub inbox_id: Option<String>,
        /// Its kind.
        #[prost(enumeration = "crate::proto::associations::IdentifierKind", tag = "3")]
        pub identifier_kind: i32,
    }
}

/// `VerifySmartContractWalletSignaturesRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VerifySmartContractWalletSignaturesRequest {
    /// Signatures to check on chain.
    #[prost(message, repeated, tag = "1")]
    pub signatures: Vec<VerifySmartContractWalletSignatureRequestSignature>,
}

/// `VerifySmartContractWalletSignatureRequestSignature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VerifySmartContractWalletSignatureRequestSignature {
    /// CAIP-10 account id.
    #[prost(string, tag = "1")]
    pub account_id: String,
    /// Block number to check at.
    #[prost(uint64, optional, tag = "2")]
    pub block_number: Option<u64>,
    /// Signature bytes.
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
    /// 32-byte EIP-191 hash.
    #[prost(bytes = "vec", tag = "4")]
    pub hash: Vec<u8>,
}

/// `VerifySmartContractWalletSignaturesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VerifySmartContractWalletSignaturesResponse {
    /// One per signature, same order.
    #[prost(message, repeated, tag = "1")]
    pub responses: Vec<verify_smart_contract_wallet_signatures_response::ValidationResponse>,
}

/// Nested types of [`VerifySmartContractWalletSignaturesResponse`].
pub mod verify_smart_contract_wallet_signatures_response {
    /// `ValidationResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValidationResponse {
        /// The verdict.
        #[prost(bool, tag = "1")]
        pub is_valid: bool,
        /// The block it was checked at.
        #[prost(uint64, optional, tag = "2")]
        pub block_number: Option<u64>,
        /// Why not.
        #[prost(string, optional, tag = "3")]
        pub error: Option<String>,
    }
}

/// `PublishIdentityUpdateRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PublishIdentityUpdateRequest {
    /// The update to append.
    #[prost(message, optional, tag = "1")]
    pub identity_update: Option<IdentityUpdate>,
}

/// `PublishIdentityUpdateResponse` (empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PublishIdentityUpdateResponse {}
