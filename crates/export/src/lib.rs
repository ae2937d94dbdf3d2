//! Writes the link mapping for researchers and mirrors: CSV, JSON lines, or a SQLite
//! snapshot. Rows come from one consistent read transaction of the index and are streamed,
//! so memory stays flat whatever the size of the index.
//!
//! Columns (CSV header, SQLite table `links`) equal the link view of the XRPC methods, with
//! the nested `record` flattened: see [`CSV_COLUMNS`]. A JSON line is exactly the link view
//! object `listLinks` returns.
//!
//! CSV cells are neutralised for spreadsheets: a cell that starts with `=`, `+`, `-`, `@`,
//! TAB or CR (which Excel, LibreOffice and Google Sheets would run as a formula), or with
//! `'` itself, gets one leading `'`. The rule is reversible: drop one leading `'` from any
//! cell that starts with it. JSON lines and SQLite snapshots hold the values unchanged.
//!
//! Files are written safely ([`safe`]): never over the live index, never through a
//! symbolic link, via an exclusive, randomly named, 0600 (0640 under systemd) temporary file renamed at the end.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::io::Write;
use std::path::Path;

use store::LinkView;

pub mod safe;

pub use safe::UnsafeTarget;

/// The CSV header, in order. Empty cells are JSON `null`s of the link view.
pub const CSV_COLUMNS: [&str; 12] = [
    "did",
    "handle",
    "inboxId",
    "status",
    "reason",
    "recordUri",
    "recordCid",
    "verificationSignature",
    "createdAt",
    "installationKey",
    "verifiedAt",
    "indexedAt",
];

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values, RFC 4180 quoting, with a header row.
    Csv,
    /// One JSON link view per line.
    Jsonl,
    /// A SQLite file with one table, `links`.
    Sqlite,
}

/// What can go wrong while exporting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the index failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Writing the output failed.
    #[error("write the export: {0}")]
    Io(#[from] std::io::Error),
    /// The output path is unsafe to write (the live index, a link, not a regular file).
    #[error("refusing to export: {0}")]
    Unsafe(#[from] UnsafeTarget),
    /// The SQLite format needs a file, not standard output.
    #[error("the sqlite format needs --out PATH (it cannot be written to standard output)")]
    SqliteNeedsPath,
}

/// Exports every visible link of the index at `index` (verified only unless
/// `include_unverified`) as CSV or JSON lines into `out`. Returns the row count.
pub fn export_stream(
    index: &Path,
    format: Format,
    include_unverified: bool,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    match format {
        Format::Jsonl => {
            let n = store::for_each_link(index, include_unverified, |link| {
                serde_json::to_writer(&mut *out, &link)?;
                out.write_all(b"\n")
            })?;
            out.flush()?;
            Ok(n)
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(CSV_COLUMNS).map_err(csv_to_io)?;
            let n = store::for_each_link(index, include_unverified, |link| {
                let row = csv_row(&link).map(neutralise_cell);
                csv.write_record(row.iter().map(|c| c.as_bytes()))
                    .map_err(csv_to_io)
            })?;
            csv.flush()?;
            Ok(n)
        }
        Format::Sqlite => Err(ExportError::SqliteNeedsPath),
    }
}

/// Exports into the file at `path`, replacing it atomically once complete. Refuses a `path`
/// that is the index at `index` (or its side files), a symbolic link or not a regular file;
/// see [`safe`]. The file is created with mode 0600 (0640 under systemd, see `store::mode`). Returns the row count.
pub fn export_file(
    index: &Path,
    format: Format,
    include_unverified: bool,
    path: &Path,
) -> Result<u64, ExportError> {
    safe::check_target(index, path)?;
    let (tmp, file) = safe::TempOut::create(path)?;
    let n = if format == Format::Sqlite {
        let n = store::export_sqlite(index, tmp.path(), include_unverified)?;
        // SQLite wrote with synchronous=OFF: make the snapshot durable before the rename.
        file.sync_all()?;
        n
    } else {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        let n = export_stream(index, format, include_unverified, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        n
    };
    tmp.persist()?;
    Ok(n)
}

/// Prefixes `'` to a cell a spreadsheet would run as a formula (and to one that already
/// starts with `'`, so that dropping one leading `'` always restores the value).
pub fn neutralise_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// One CSV row in [`CSV_COLUMNS`] order.
fn csv_row(l: &LinkView) -> [&str; 12] {
    fn opt(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
    [
        &l.did,
        l.handle.as_deref().unwrap_or(""),
        &l.inbox_id,
        l.status.as_str(),
        opt(&l.reason),
        &l.record.uri,
        &l.record.cid,
        &l.record.verification_signature,
        &l.record.created_at,
        opt(&l.installation_key),
        opt(&l.verified_at),
        &l.indexed_at,
    ]
}

fn csv_to_io(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e)
}
