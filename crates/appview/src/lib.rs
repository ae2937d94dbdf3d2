//! The xmtp-appview binary's library half: CLI parsing, configuration, and the wiring of
//! the library crates into commands. `main.rs` only calls [`main_entry`].

pub mod cli;
pub mod cmd;
pub mod config;
pub mod server;
pub mod shutdown;
pub mod subscribe;
pub mod telemetry;
pub mod xmtp_backend;

use std::process::ExitCode;

use clap::Parser;

/// Exit code for errors: bad input, network failures, unimplemented commands.
pub const EXIT_ERROR: u8 = 2;

/// Parses the command line, installs tracing, runs the command, and maps the outcome to an
/// exit code (0 success, 1 "not verified" for `verify`, 2 error).
pub fn main_entry() -> ExitCode {
    let cli = cli::Cli::parse();
    telemetry::init(cli.log_format);
    match cmd::dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xmtp-appview: error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
