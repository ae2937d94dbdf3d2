//! Entry point of `xmtp-appview`: everything lives in the library; this only hands over
//! the process exit code.

fn main() -> std::process::ExitCode {
    appview::main_entry()
}
