//! A mirror of another xmtp-appview (`run --upstream URL`) that does not trust it.
//!
//! The upstream is only a **hint** of which DIDs to look at. [`follow()`] pages its `listLinks`
//! ([`listing`]) and follows its `subscribeLinks` stream ([`wire`]); every DID it mentions is
//! put into the store's durable resync queue, with the stream position in the same
//! transaction. The firehose crate's resync worker then fetches that DID's record with a
//! `getRecord` MST proof from the DID's own PDS, and the verifier pool checks the XMTP half,
//! exactly as for a relay event. So whatever the upstream claims, the mirror serves only what
//! its own proofs show: a forged link, a wrong inbox or a replayed old view changes nothing.
//!
//! [`MirrorStatus`] says whether the upstream answers; [`wait_gone`] fires when it has been
//! gone longer than a grace period, for the binary to fall back to the relay.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod config;
mod diff;
pub mod error;
pub mod follow;
pub mod listing;
pub mod metrics;
pub mod status;
pub mod wire;

pub use config::MirrorConfig;
pub use error::MirrorError;
pub use follow::{MirrorDeps, follow};
pub use status::{MirrorStatus, wait_gone};
