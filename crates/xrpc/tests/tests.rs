//! Integration tests of the XRPC server: one binary, the real server on an ephemeral port.

#![allow(clippy::unwrap_used)]

mod support;

mod errors;
mod extras;
mod guards;
mod lexicons;
mod methods;
mod params_prop;
mod service_proxy;
mod subscribe;
mod syntax_fixtures;
