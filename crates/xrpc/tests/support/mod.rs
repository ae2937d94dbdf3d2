//! Helpers shared by the integration tests.

pub mod http;
pub mod lexicon;
pub mod record_data;
pub mod seed;
pub mod server;

/// Absolute path of `<workspace>/testdata/<rel>` (the vendored vectors, see its PROVENANCE.md).
pub fn testdata(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(rel)
}
