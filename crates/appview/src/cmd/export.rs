//! `export`: streams every link (verified only unless `--include-unverified`) as CSV, JSON
//! lines or a SQLite snapshot; the row count goes to standard error.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{ExportArgs, ExportFormat};

/// Runs `export`.
pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        ExportFormat::Csv => export::Format::Csv,
        ExportFormat::Jsonl => export::Format::Jsonl,
        ExportFormat::Sqlite => export::Format::Sqlite,
    };
    let index = args.db.db.as_path();
    let rows = if args.out == "-" {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
        let rows = export::export_stream(index, format, args.include_unverified, &mut out)
            .context("export")?;
        out.flush().context("flush standard output")?;
        rows
    } else {
        export::export_file(index, format, args.include_unverified, Path::new(&args.out))
            .with_context(|| format!("export to {}", args.out))?
    };
    eprintln!("exported {rows} links");
    Ok(ExitCode::SUCCESS)
}
