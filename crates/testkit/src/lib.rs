//! Test-only builders, kept out of production crates: [`atproto`] makes synthetic, really
//! signed repositories and their Sync 1.1 `#commit` frames; [`xmtp`] signs identity updates
//! the way libxmtp does (wallets, smart-contract wallets, installations); [`ids`] gives
//! real-shaped DIDs, CIDs, revs and handles for tests that need no repo.
//!
//! A dev-dependency of the crates whose tests need it, and a normal dependency of the
//! devnet only (its stand-ins create inboxes); no production crate depends on it.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod atproto;
pub mod ids;
pub mod xmtp;
