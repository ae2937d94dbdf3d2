//! The XRPC query server (axum): the `org.xmtp.identity.*` methods, `_health`, `/metrics`
//! and `/.well-known/did.json`.
//!
//! [`router`] builds the whole HTTP surface over an [`AppState`]; [`serve`] runs it on a
//! listener until a shutdown future resolves. Handlers validate every parameter with the
//! `syntax` crate, read through `store::Reader` only, and answer errors as
//! `{"error", "message"}` via [`XrpcError`]; only server faults (5xx) are logged.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod did_doc;
mod error;
mod methods;
mod params;
mod routes;
mod server;
mod state;

pub use error::XrpcError;
pub use methods::QUERY_METHODS;
pub use routes::router;
pub use server::{describe_metrics, serve};
pub use state::{AppState, LiveStatus, NoLiveStatus};
