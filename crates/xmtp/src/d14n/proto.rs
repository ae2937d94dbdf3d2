//! Hand-written prost messages for the d14n (xmtpd) subset we speak, field numbers checked
//! one by one against libxmtp's generated code at commit
//! `a53a97edfd10ffde642d3dd07be5c5871023551f`:
//! `crates/xmtp_proto/src/gen/xmtp.xmtpv4.envelopes.rs`,
//! `crates/xmtp_proto/src/gen/xmtp.xmtpv4.message_api.rs`,
//! `crates/xmtp_proto/src/gen/xmtp.xmtpv4.payer_api.rs`,
//! `crates/xmtp_proto/src/gen/xmtp.migration.api.v1.rs`, and the method paths against
//! `crates/xmtp_api_d14n/src/endpoints/d14n/{query_envelopes,get_inbox_ids,get_nodes,
//! fetch_d14n_cutover,subscribe_envelopes}.rs` and the generated servers.
//!
//! Payloads other than the identity update are kept as opaque bytes (a message and
//! `bytes` share the length-delimited wire type), so an envelope re-encodes byte for byte
//! and an update stays encoded until replay, as on the v3 path.

use crate::proto::associations::RecoverableEcdsaSignature;
use std::collections::HashMap;

/// `ReplicationApi/QueryEnvelopes`.
pub const PATH_QUERY_ENVELOPES: &str = "/xmtp.xmtpv4.message_api.ReplicationApi/QueryEnvelopes";
/// `ReplicationApi/SubscribeEnvelopes` (server streaming).
pub const PATH_SUBSCRIBE_ENVELOPES: &str =
    "/xmtp.xmtpv4.message_api.ReplicationApi/SubscribeEnvelopes";
/// `ReplicationApi/GetInboxIds`.
pub const PATH_GET_INBOX_IDS: &str = "/xmtp.xmtpv4.message_api.ReplicationApi/GetInboxIds";
/// The node's service name.
pub const REPLICATION_SERVICE: &str = "xmtp.xmtpv4.message_api.ReplicationApi";
/// `PayerApi/GetNodes` (the gateway's node directory).
pub const PATH_GET_NODES: &str = "/xmtp.xmtpv4.payer_api.PayerApi/GetNodes";
/// The gateway's service name.
pub const PAYER_SERVICE: &str = "xmtp.xmtpv4.payer_api.PayerApi";
/// `D14nMigrationApi/FetchD14nCutover`, served by the v3 node (xmtp-node-go).
pub const PATH_FETCH_D14N_CUTOVER: &str =
    "/xmtp.migration.api.v1.D14nMigrationApi/FetchD14nCutover";
/// The migration service's name.
pub const MIGRATION_SERVICE: &str = "xmtp.migration.api.v1.D14nMigrationApi";

/// libxmtp `Originators::INBOX_LOG` (`crates/xmtp_configuration/src/common/d14n.rs`), the
/// same as xmtpd's `IDENTITY_UPDATE_ORIGINATOR_ID`: every identity update has this
/// originator, and its sequence ids continue the v3 log's.
pub const INBOX_LOG_ORIGINATOR: u32 = 1;

/// `xmtp.xmtpv4.envelopes.Cursor`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Cursor {
    /// Originator node id → last sequence id seen.
    #[prost(map = "uint32, uint64", tag = "1")]
    pub node_id_to_sequence_id: HashMap<u32, u64>,
}

/// `xmtp.xmtpv4.envelopes.AuthenticatedData` (field 1 is reserved upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AuthenticatedData {
    /// Kind-prefixed topic the envelope is published to.
    #[prost(bytes = "vec", tag = "2")]
    pub target_topic: Vec<u8>,
    /// Causal dependency.
    #[prost(message, optional, tag = "3")]
    pub depends_on: Option<Cursor>,
}

/// `xmtp.xmtpv4.envelopes.ClientEnvelope`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientEnvelope {
    /// Authenticated data (the target topic).
    #[prost(message, optional, tag = "1")]
    pub aad: Option<AuthenticatedData>,
    /// The payload (oneof `payload`).
    #[prost(oneof = "client_envelope::Payload", tags = "2, 3, 4, 5, 6, 7")]
    pub payload: Option<client_envelope::Payload>,
}

/// Nested types of [`ClientEnvelope`].
pub mod client_envelope {
    /// `ClientEnvelope.payload`, each kept encoded.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Payload {
        /// `xmtp.mls.api.v1.GroupMessageInput`.
        #[prost(bytes, tag = "2")]
        GroupMessage(Vec<u8>),
        /// `xmtp.mls.api.v1.WelcomeMessageInput`.
        #[prost(bytes, tag = "3")]
        WelcomeMessage(Vec<u8>),
        /// `xmtp.mls.api.v1.UploadKeyPackageRequest`.
        #[prost(bytes, tag = "4")]
        UploadKeyPackage(Vec<u8>),
        /// `xmtp.identity.associations.IdentityUpdate`.
        #[prost(bytes, tag = "5")]
        IdentityUpdate(Vec<u8>),
        /// `PayerReport`.
        #[prost(bytes, tag = "6")]
        PayerReport(Vec<u8>),
        /// `PayerReportAttestation`.
        #[prost(bytes, tag = "7")]
        PayerReportAttestation(Vec<u8>),
    }
}

/// `xmtp.xmtpv4.envelopes.PayerEnvelope`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PayerEnvelope {
    /// Encoded [`ClientEnvelope`].
    #[prost(bytes = "vec", tag = "1")]
    pub unsigned_client_envelope: Vec<u8>,
    /// The payer's signature over the client envelope.
    #[prost(message, optional, tag = "2")]
    pub payer_signature: Option<RecoverableEcdsaSignature>,
    /// Node the payer sent it to.
    #[prost(uint32, tag = "3")]
    pub target_originator: u32,
    /// Retention.
    #[prost(uint32, tag = "4")]
    pub message_retention_days: u32,
}

/// `xmtp.xmtpv4.envelopes.UnsignedOriginatorEnvelope`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UnsignedOriginatorEnvelope {
    /// Originator node.
    #[prost(uint32, tag = "1")]
    pub originator_node_id: u32,
    /// Position in that originator's sequence (→ the v3 `sequence_id`).
    #[prost(uint64, tag = "2")]
    pub originator_sequence_id: u64,
    /// Originator clock (→ the v3 `server_timestamp_ns`).
    #[prost(int64, tag = "3")]
    pub originator_ns: i64,
    /// Encoded [`PayerEnvelope`].
    #[prost(bytes = "vec", tag = "4")]
    pub payer_envelope_bytes: Vec<u8>,
    /// Fee.
    #[prost(uint64, tag = "5")]
    pub base_fee_picodollars: u64,
    /// Fee.
    #[prost(uint64, tag = "6")]
    pub congestion_fee_picodollars: u64,
    /// Expiry.
    #[prost(uint64, tag = "7")]
    pub expiry_unixtime: u64,
}

/// `xmtp.xmtpv4.envelopes.BlockchainProof`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BlockchainProof {
    /// Settlement-chain transaction that carried the payload.
    #[prost(bytes = "vec", tag = "1")]
    pub transaction_hash: Vec<u8>,
}

/// `xmtp.xmtpv4.envelopes.OriginatorEnvelope`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OriginatorEnvelope {
    /// Encoded [`UnsignedOriginatorEnvelope`].
    #[prost(bytes = "vec", tag = "1")]
    pub unsigned_originator_envelope: Vec<u8>,
    /// The proof (oneof `proof`).
    #[prost(oneof = "originator_envelope::Proof", tags = "2, 3")]
    pub proof: Option<originator_envelope::Proof>,
}

/// Nested types of [`OriginatorEnvelope`].
pub mod originator_envelope {
    /// `OriginatorEnvelope.proof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Proof {
        /// Node signature (payloads a node originates).
        #[prost(message, tag = "2")]
        OriginatorSignature(super::RecoverableEcdsaSignature),
        /// On-chain payloads (identity updates).
        #[prost(message, tag = "3")]
        BlockchainProof(super::BlockchainProof),
    }
}

/// `xmtp.xmtpv4.message_api.EnvelopesQuery`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EnvelopesQuery {
    /// Kind-prefixed topics.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub topics: Vec<Vec<u8>>,
    /// Or originators (not both).
    #[prost(uint32, repeated, tag = "2")]
    pub originator_node_ids: Vec<u32>,
    /// Resume point.
    #[prost(message, optional, tag = "3")]
    pub last_seen: Option<Cursor>,
}

/// `QueryEnvelopesRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryEnvelopesRequest {
    /// The query.
    #[prost(message, optional, tag = "1")]
    pub query: Option<EnvelopesQuery>,
    /// Most envelopes to return (0 = server default).
    #[prost(uint32, tag = "2")]
    pub limit: u32,
}

/// `QueryEnvelopesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryEnvelopesResponse {
    /// Envelopes, per originator in sequence order.
    #[prost(message, repeated, tag = "1")]
    pub envelopes: Vec<OriginatorEnvelope>,
}

/// `SubscribeEnvelopesRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubscribeEnvelopesRequest {
    /// The query.
    #[prost(message, optional, tag = "1")]
    pub query: Option<EnvelopesQuery>,
}

/// `SubscribeEnvelopesResponse` (one stream frame).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubscribeEnvelopesResponse {
    /// Envelopes.
    #[prost(message, repeated, tag = "1")]
    pub envelopes: Vec<OriginatorEnvelope>,
}

/// `xmtp.xmtpv4.message_api.GetInboxIdsRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetInboxIdsRequest {
    /// Identifiers.
    #[prost(message, repeated, tag = "1")]
    pub requests: Vec<get_inbox_ids_request::Request>,
}

/// Nested types of [`GetInboxIdsRequest`].
pub mod get_inbox_ids_request {
    /// One identifier.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Request {
        /// Address or passkey.
        #[prost(string, tag = "1")]
        pub identifier: String,
        /// `xmtp.identity.associations.IdentifierKind`.
        #[prost(enumeration = "crate::proto::associations::IdentifierKind", tag = "2")]
        pub identifier_kind: i32,
    }
}

/// `xmtp.xmtpv4.message_api.GetInboxIdsResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetInboxIdsResponse {
    /// Answers.
    #[prost(message, repeated, tag = "1")]
    pub responses: Vec<get_inbox_ids_response::Response>,
}

/// Nested types of [`GetInboxIdsResponse`].
pub mod get_inbox_ids_response {
    /// One answer.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Response {
        /// The identifier asked about.
        #[prost(string, tag = "1")]
        pub identifier: String,
        /// Its inbox, if any.
        #[prost(string, optional, tag = "2")]
        pub inbox_id: Option<String>,
        /// `IdentifierKind`.
        #[prost(enumeration = "crate::proto::associations::IdentifierKind", tag = "3")]
        pub identifier_kind: i32,
    }
}

/// `xmtp.xmtpv4.payer_api.GetNodesRequest` (empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetNodesRequest {}

/// `xmtp.xmtpv4.payer_api.GetNodesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetNodesResponse {
    /// Node id → gRPC URL.
    #[prost(map = "uint32, string", tag = "1")]
    pub nodes: HashMap<u32, String>,
}

/// `google.protobuf.Empty`, the `FetchD14nCutover` request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

/// `xmtp.migration.api.v1.FetchD14nCutoverResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FetchD14nCutoverResponse {
    /// When v3 stops taking writes (unix ns; 0 = not scheduled).
    #[prost(uint64, tag = "1")]
    pub timestamp_ns: u64,
}
