//! The XMTP identity subset: installation signatures, inbox IDs, identity-update replay,
//! and the `IdentityApi` gRPC client.
//!
//! A link is verified when its `verificationSignature` verifies over the DID against a
//! *current* installation of its inbox, exactly as the XMTP SDK's
//! `verifySignedWithPublicKey` over `fetchInboxStates` decides. Everything here is a native,
//! byte-exact re-implementation of libxmtp's code paths (`docs/xmtp-identity.md`), checked
//! against the vectors the real SDK produced (`testdata/xmtp`).
//!
//! Base64 policy: `verificationSignature` is decoded exactly like Node's lenient
//! `Buffer.from(s, "base64")` (both alphabets, junk skipped, stop at the first `=`, partial
//! trailing groups), which is what the reference verifier does, so our verdicts equal the
//! SDK's on every string, including ones a strict decoder would refuse (see
//! [`syntax::base64`]).
//!
//! Map: [`installation`] (Ed25519ph DID signatures; the Node-compatible base64 policy is
//! [`syntax::base64`]), [`inbox_id`], [`proto`] (hand-written prost messages), [`model`] / [`text`] /
//! [`signature`] / [`replay`] / [`replay_error`] / [`state`] (identity-update replay;
//! `replay_error` says whether a failure is evidence), [`api`] (the `IdentityApi` trait and
//! its errors), [`client`] (tonic implementation with rate limiting and retries), [`d14n`]
//! (the decentralised network: envelopes, xmtpd client, cutover switch). Signing updates
//! for tests and the devnet is `testkit::xmtp`, outside production code.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod api;
pub mod client;
pub mod d14n;
pub mod inbox_id;
mod inbox_ids;
pub mod installation;
pub mod model;
pub mod proto;
pub mod ratelimit;
pub mod replay;
pub mod replay_error;
pub mod signature;
pub mod state;
pub mod text;

pub use api::{ApiError, IdentityApi, InboxLog, LogEntry};
pub use client::{ClientConfig, GrpcIdentityApi, XmtpEnv};
pub use installation::{InstallationKey, verify_did_signature, verify_signed_with_public_key};
pub use replay::{ReplayClass, ReplayError, ReplayErrorKind};
pub use state::{CachedInbox, InboxState};
