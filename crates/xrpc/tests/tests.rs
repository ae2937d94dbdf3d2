//! Integration tests of the XRPC server: one binary, the real server on an ephemeral port.

#![allow(clippy::unwrap_used)]

mod support;

mod errors;
mod extras;
mod lexicons;
mod methods;
mod syntax_fixtures;
