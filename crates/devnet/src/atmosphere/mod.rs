//! The ATProto side of the devnet: PLC directory, PDS and relay on loopback sockets.
//!
//! Everything speaks the real wire formats: DID documents as plc.directory serves them,
//! signed commits over real MSTs in real CARs, `subscribeRepos` frames encoded by
//! `wire::frame`. The PDS hands each commit to the relay in process; the relay
//! sequences, persists and streams it. Controls on [`Pds`], [`Relay`] and
//! [`PlcDirectory`] drive the scenarios of tests, benchmarks and the `devnet` demo.

mod error;
mod http;
pub(crate) mod locks;
pub mod pds;
pub mod plc;
pub mod relay;
pub mod tid;
pub mod traffic;

pub use error::AtmosphereError;
pub use http::HttpFaults;
pub use pds::{AccountInfo, CommitInfo, Forgery, Pds, PdsConfig, Write};
pub use plc::{PlcDirectory, PlcEntry};
pub use relay::{CommitEvent, CommitOp, OpAction, Relay, RelayConfig, RelayEvent, RepoListing};
