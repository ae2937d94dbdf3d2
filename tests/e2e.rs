//! End-to-end tests against the devnet.
