//! The xmtp-appview binary's library half: CLI parsing, configuration and the wiring of the
//! library crates into commands. `main.rs` only calls [`run`].
