//! Backfill benchmark (filled in below).
fn main() {}
