//! DID and handle resolution for atproto: DID document parsing ([`DidDocument`]) and a
//! cached, SSRF-guarded async [`Resolver`] (did:plc via a PLC directory, did:web via
//! `/.well-known/did.json`, handles via DNS TXT `_atproto.<handle>` and HTTPS
//! `/.well-known/atproto-did`, or via a `resolveHandle` service), with bidirectional handle
//! verification.
//!
//! Network faults are reported as [`IdentityError::Network`] (see
//! [`IdentityError::is_transient`]) and are never conflated with "not found" or "invalid".
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cache;
mod config;
mod doc;
mod error;
mod handle;
mod http;
mod resolver;
mod source;
mod ssrf;

pub use config::ResolverConfig;
pub use doc::DidDocument;
pub use error::IdentityError;
pub use handle::{parse_txt_did, parse_well_known_body};
pub use resolver::Resolver;
pub use source::{BoxFuture, IdentitySource, LookupError, StaticAccount, StaticIdentity};
pub use ssrf::{check_url, is_public_ip};

#[cfg(test)]
mod tests;
