//! The link-verification worker pool: the XMTP half of the two-way confirmation.
//!
//! A link is verified only when its `verificationSignature` verifies over the DID against a
//! current installation of its inbox, exactly as the XMTP SDK's `verifySignedWithPublicKey`
//! over `fetchInboxStates` decides. The pool takes work from `store::Reader::links_to_check`,
//! fetches inbox logs through an [`xmtp::IdentityApi`] (incrementally from each inbox's
//! cached position), replays them and writes verdicts and inbox states back.
//!
//! Invariants: only evidence produces `invalid`. A transport fault, or a log that cannot be
//! evaluated (a smart-contract-wallet check the node could not run, an update that does
//! not decode or has an unknown kind), leaves a pending link `pending` with a reason and a
//! `RetryLater`, and is never cached as a final invalid inbox. A replayed state must have
//! the record's inbox ID. Every verdict is against the current state; a grown log
//! re-checks the inbox's other links. On d14n, [`watch`] subscribes to every cached inbox's
//! identity topic and sends a pushed inbox to the pool's re-check-now queue
//! ([`Verifier::with_rechecks`]). On v3, which cannot push, [`tier`] re-checks the links of
//! recently active accounts every `--reverify-active-after` instead of every
//! `--reverify-after`, within a read budget.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod inbox;
mod oneshot;
mod pool;
pub mod tier;
pub mod twoway;
mod verdict;
pub mod watch;

#[cfg(test)]
mod evidence_tests;
#[cfg(test)]
mod tests;

pub use config::VerifierConfig;
pub use inbox::{Advanced, advance};
pub use oneshot::verify_link;
pub use pool::{RoundStats, Verifier, describe_metrics, run};
pub use verdict::{InboxOutcome, Reason, Verdict, evaluate, precheck};
#[cfg(test)]
mod tier_tests;
#[cfg(test)]
mod watch_tests;
