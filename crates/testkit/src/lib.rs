//! Test-only builders, kept out of production crates: [`xmtp`] signs identity updates the
//! way libxmtp does (wallets, smart-contract wallets, installations).
//!
//! A dev-dependency of the crates whose tests need it, and a normal dependency of the
//! devnet only (its stand-ins create inboxes); no production crate depends on it.

pub mod xmtp;
