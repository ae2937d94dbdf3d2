//! One module per command of the public contract; `dispatch` picks the one asked for.

use std::process::ExitCode;

use crate::cli::Command;

/// Runs one command and returns the process exit code.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(_) => not_implemented("run", 3),
        Command::Serve(_) => not_implemented("serve", 2),
        Command::Backfill(_) => not_implemented("backfill", 5),
        Command::Verify(_) => not_implemented("verify", 5),
        Command::Export(_) => not_implemented("export", 5),
        Command::Devnet(_) => not_implemented("devnet", 5),
    }
}

/// A command whose issue has not landed yet: one line on stderr, exit 2, no fake output.
fn not_implemented(name: &str, issue: u32) -> anyhow::Result<ExitCode> {
    eprintln!("xmtp-appview: `{name}` is not implemented yet (issue {issue})");
    Ok(ExitCode::from(crate::EXIT_ERROR))
}
