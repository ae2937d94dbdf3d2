//! One module per command of the public contract; `dispatch` picks the one asked for.

pub mod backfill;
mod devnet;
mod export;
pub mod run;
mod serve;
pub mod verify;

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::Command;

/// Runs one command and returns the process exit code.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Export(args) => export::run(args),
        Command::Serve(args) => runtime()?.block_on(serve::run(args)),
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Backfill(args) => runtime()?.block_on(backfill::run(args)),
        Command::Verify(args) => runtime()?.block_on(verify::run(args)),
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
