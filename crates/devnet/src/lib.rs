//! The simulated Atmosphere on loopback: relay, PLC directory, PDS and XMTP identity API.
//!
//! Real wire formats on real sockets, so that tests, benchmarks and the `devnet` command
//! exercise the same code paths as production.

pub mod atmosphere;
pub mod world;
pub mod xmtp;

pub use self::xmtp::{DevInbox, FaultMode, StandInConfig, XmtpStandIn};
