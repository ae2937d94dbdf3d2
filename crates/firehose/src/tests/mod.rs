//! Crate-level tests: indigo relay scenarios, captured firehose commits, garbage frames,
//! and the pipeline end to end against an in-test WebSocket relay (plain and `wss://`).

mod commits;
mod durability;
mod e2e;
mod garbage;
mod handles;
mod lying;
mod pool;
mod resync;
mod scenarios;
mod support;
mod tls;
mod tracked;
