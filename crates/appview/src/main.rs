//! Entry point of `xmtp-appview`.
fn main() {}
