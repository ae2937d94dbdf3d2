//! Writes the link mapping for researchers and mirrors: CSV, JSON lines, or a SQLite
//! snapshot. Rows come from one consistent read transaction of the index and are streamed,
//! so memory stays flat whatever the size of the index.
//!
//! Columns (CSV header, SQLite table `links`) equal the link view of the XRPC methods, with
//! the nested `record` flattened: see [`CSV_COLUMNS`]. A JSON line is exactly the link view
//! object `listLinks` returns.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::io::Write;
use std::path::Path;

use store::LinkView;

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
                csv.write_record(csv_row(&link)).map_err(csv_to_io)
            })?;
            csv.flush()?;
            Ok(n)
        }
        Format::Sqlite => Err(ExportError::SqliteNeedsPath),
    }
}

/// Exports into the file at `path` (SQLite: an atomic snapshot file). Returns the row count.
pub fn export_file(
    index: &Path,
    format: Format,
    include_unverified: bool,
    path: &Path,
) -> Result<u64, ExportError> {
    if format == Format::Sqlite {
        return Ok(store::export_sqlite(index, path, include_unverified)?);
    }
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let n = export_stream(index, format, include_unverified, &mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(n)
}

/// One CSV row in [`CSV_COLUMNS`] order.
fn csv_row(l: &LinkView) -> [&str; 12] {
    fn opt(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
    [
        &l.did,
        opt(&l.handle),
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
