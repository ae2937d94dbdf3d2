//! Shared helpers for tests that read the vectors in `<workspace>/testdata` (see its PROVENANCE.md).
//! A missing vector directory fails the test loudly.

use std::path::PathBuf;

/// Absolute path of a file under `<workspace>/testdata`; panics when it is missing.
pub fn path(rel: &str) -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(rel);
    assert!(
        p.exists(),
        "test vector missing: {} (expected in <workspace>/testdata)",
        p.display()
    );
    p
}

/// Reads a vector file as bytes.
pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(path(rel)).unwrap_or_else(|e| panic!("cannot read vector {rel}: {e}"))
}

/// Reads a vector file as JSON.
pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap_or_else(|e| panic!("vector {rel} is not JSON: {e}"))
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    let t = s.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
        .unwrap_or_else(|e| panic!("bad base64 {s}: {e}"))
}
