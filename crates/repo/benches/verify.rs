//! Per-commit verification benchmark (placeholder until the MST lands).
fn main() {}
