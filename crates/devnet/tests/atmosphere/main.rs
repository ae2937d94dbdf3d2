//! End-to-end checks of the simulated Atmosphere over real sockets: a WebSocket client reads
//! the relay, and every commit is verified with the `repo` crate (signature by the key in the
//! PLC document, CAR block hashes, MST values, Sync 1.1 inversion to `prevData`); record
//! proofs from the PDS verify; cursors, windows and faults behave as the sync spec says.
#![allow(clippy::unwrap_used)]

mod commits;
mod http;
mod identity;
mod status;
mod stream;
mod support;
mod world;
