//! Helpers shared by the integration tests.

pub mod http;
pub mod lexicon;
pub mod seed;
pub mod server;
