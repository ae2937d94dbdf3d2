//! `netguard`: the one HTTP client for hosts that came from the network (PDS endpoints in
//! DID documents, did:web hosts, handles).
//!
//! A [`GuardedClient`] under a [`Policy`]:
//! - refuses every non-public address unless [`Policy::allow_private`]: IP-literal URLs
//!   before any request, host names after DNS, at connect time (its resolver drops
//!   non-public answers, so DNS rebinding gains nothing), and every `localhost` spelling;
//! - checks every redirect hop the same way, refuses https→http, and follows at most
//!   [`Policy::max_redirects`] hops; never uses a proxy;
//! - reads bodies chunk by chunk under the caller's cap (a `Content-Length` over the cap is
//!   refused before reading);
//! - bounds the connection, the response headers and the whole exchange in time.
//!
//! Failures are typed ([`NetError`]); [`NetError::is_transient`] separates faults worth a
//! retry (timeouts, network errors, 429/5xx) from refusals and bad answers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), netguard::NetError> {
//! let client = netguard::GuardedClient::new(netguard::Policy::default())?;
//! let fetched = client.get("https://pds.example.com/xrpc/_health", 64 * 1024).await?;
//! println!("{} {} bytes", fetched.status, fetched.body.len());
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod addr;
mod client;
mod dns;
mod error;
mod policy;

pub use addr::{check_url, is_localhost_name, is_public_ip};
pub use client::{Fetched, GuardedClient};
pub use dns::{BoxError, Lookup, LookupFuture, StaticLookup, SystemLookup};
pub use error::{NetError, is_transient_status};
pub use policy::Policy;
pub use reqwest::Url;

/// Counter: guarded fetches that failed, label `kind` = [`NetError::kind`]
/// (`forbidden`, `too_large`, `timeout`, `network`, ...).
pub const FAILURES: &str = "netguard_failures_total";

/// Registers metric descriptions (call once at start-up, after the recorder is installed).
pub fn describe_metrics() {
    metrics::describe_counter!(
        FAILURES,
        "Fetches to hosts named by untrusted data that failed, by kind (forbidden = SSRF guard)"
    );
}

#[cfg(test)]
mod tests;
