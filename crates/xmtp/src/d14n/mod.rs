//! XMTP's decentralised network (d14n, xmtpd) as a second identity backend.
//!
//! Map: [`proto`] (hand-written xmtpv4 / migration messages, field numbers checked against
//! libxmtp), [`decode`] (originator → payer → client envelope → identity update; the
//! identity topic), [`client`] ([`D14nIdentityApi`]: gateway discovery, `QueryEnvelopes`,
//! `GetInboxIds`, `SubscribeEnvelopes`; `FetchD14nCutover`), [`auto`] (v3 until the
//! cutover, then d14n).
//!
//! What is trusted: nothing a node says about identity. Every identity update is signed
//! by the inbox's own keys (wallet ECDSA, installation Ed25519, passkey, ERC-1271) and
//! goes through the SAME replay as on v3 ([`crate::replay`]), so a node cannot forge an
//! installation or a revocation. A node can withhold or delay updates (as a v3 node can):
//! that keeps a link at its last state, never flips it to `invalid` by itself.
//!
//! What is not checked: the originator envelope's proof. For identity updates xmtpd
//! serves a `BlockchainProof` (the settlement-chain transaction hash), checkable only
//! against a chain RPC, which this AppView does not have; the proof is neither required
//! nor verified, like libxmtp's client (which does not check it either). A node's
//! `originator_signature` (payloads it originates) needs the node's public key from the
//! on-chain registry, which `GetNodes` does not return: not checked. Routing is checked:
//! the client envelope's target topic must be the topic asked for, and the originator
//! must be the inbox log (1); a failure is a bad answer (retried), never evidence.
//! Pushed envelopes (subscriptions) are only hints: they trigger a fetch + replay.

pub mod auto;
pub mod client;
pub mod decode;
pub mod proto;

pub use auto::{AutoIdentityApi, Backend};
pub use client::{D14nConfig, D14nIdentityApi, decode_frame, fetch_d14n_cutover};
pub use decode::{identity_topic, inbox_of_topic, unwrap_identity_update, wrap_identity_update};
