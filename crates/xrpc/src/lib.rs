//! The XRPC query server (axum): the `org.xmtp.identity.*` methods, `_health`,
//! `/.well-known/did.json`, and `/metrics` on a listener of its own.
//!
//! [`router`] builds the XRPC surface over an [`AppState`]; [`serve_with`] runs any app on a
//! listener inside the guards of a [`ServerConfig`] (per-client rate limit answered 429, a
//! cap on requests in flight and on connections, header-read, write and request timeouts)
//! until a shutdown future resolves. Handlers validate every parameter with the `syntax`
//! crate, read through `store::Reader` only, and answer errors as `{"error", "message"}` via
//! [`XrpcError`]; only server faults (500) are logged.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod conn_limit;
mod did_doc;
mod error;
mod guard;
mod methods;
mod metrics;
mod params;
mod rate_limit;
mod routes;
mod server;
mod stall;
mod state;
mod subscribe;

pub use config::ServerConfig;
pub use error::XrpcError;
pub use methods::{QUERY_METHODS, SUBSCRIPTION_METHODS};
pub use metrics::metrics_router;
pub use routes::router;
pub use server::{describe_metrics, serve, serve_with};
pub use state::{AppState, LiveStatus, MirrorInfo, NoLiveStatus};
pub use subscribe::{LinkFeed, LinkFeedConfig};
