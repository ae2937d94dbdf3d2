//! End-to-end tests: the whole AppView (`appview::cmd::run::start`, the same code path as
//! `xmtp-appview run`) against the devnet — a real relay, PLC directory, PDS and XMTP identity
//! API on loopback — queried over real HTTP.

#![allow(clippy::unwrap_used, missing_docs)]

mod e2e {
    mod backfill;
    mod d14n;
    pub mod harness;
    mod lifecycle;
    mod lying_relay;
    mod mirror;
    mod resilience;
    mod subscribe;
    mod tier;
    mod upstream;
}
