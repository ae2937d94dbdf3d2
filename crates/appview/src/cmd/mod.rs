//! One module per command of the public contract; `dispatch` picks the one asked for.

mod devnet;
mod export;
pub mod run;
mod serve;

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::Command;

/// Runs one command and returns the process exit code.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Export(args) => export::run(args),
        Command::Serve(args) => runtime()?.block_on(serve::run(args)),
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Backfill(_) => not_implemented("backfill", 5),
        Command::Verify(_) => not_implemented("verify", 5),
        Command::Devnet(args) => runtime()?.block_on(devnet::run(args)),
    }
}

/// The multi-threaded tokio runtime the async commands run on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// A command whose issue has not landed yet: one line on stderr, exit 2, no fake output.
fn not_implemented(name: &str, issue: u32) -> anyhow::Result<ExitCode> {
    eprintln!("xmtp-appview: `{name}` is not implemented yet (issue {issue})");
    Ok(ExitCode::from(crate::EXIT_ERROR))
}
