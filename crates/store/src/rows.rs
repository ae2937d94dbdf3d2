//! Identifiers read back from stored rows. The store hands out `syntax` types; a row whose
//! stored identifier does not parse (a file edited by hand, a bug of an older version) is
//! skipped: logged, counted in [`BAD_ROWS`] by table, never a panic and never an error that
//! would fail the query (or, in the writer, the batch) it was read by.

use rusqlite::types::Type;
use syntax::SyntaxError;

/// The counter of stored rows skipped because an identifier in them did not parse (label
/// `table`).
pub const BAD_ROWS: &str = "store_bad_rows_total";

/// Registers the description of the store's metric.
pub fn describe_metrics() {
    metrics::describe_counter!(
        BAD_ROWS,
        "stored rows skipped: an identifier did not parse, by table"
    );
}

/// An identifier of a stored row that does not parse; carried inside a
/// `rusqlite::Error::FromSqlConversionFailure` until [`skip_bad`] drops its row.
#[derive(Debug, thiserror::Error)]
#[error("stored {table}.{column} {value:?} does not parse: {error}")]
pub(crate) struct BadRow {
    table: &'static str,
    column: &'static str,
    value: String,
    error: SyntaxError,
}

/// Parses `value`, read from `table.column` at index `idx`; a value that does not parse is
/// a [`BadRow`] error for [`skip_bad`].
pub(crate) fn parse<T>(
    (table, column): (&'static str, &'static str),
    idx: usize,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, SyntaxError>,
) -> rusqlite::Result<T> {
    parse(value).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            Box::new(BadRow {
                table,
                column,
                value: value.to_owned(),
                error,
            }),
        )
    })
}

/// [`parse`] of an optional value.
pub(crate) fn parse_opt<T>(
    at: (&'static str, &'static str),
    idx: usize,
    value: Option<&str>,
    f: impl FnOnce(&str) -> Result<T, SyntaxError>,
) -> rusqlite::Result<Option<T>> {
    value.map(|v| parse(at, idx, v, f)).transpose()
}

/// The row, or `None` when an identifier in it did not parse (logged and counted); any other
/// error is passed on.
pub(crate) fn skip_bad<T>(row: rusqlite::Result<T>) -> rusqlite::Result<Option<T>> {
    match row {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::FromSqlConversionFailure(_, _, e)) if e.is::<BadRow>() => {
            if let Some(bad) = e.downcast_ref::<BadRow>() {
                metrics::counter!(BAD_ROWS, "table" => bad.table).increment(1);
                tracing::warn!(table = bad.table, error = %bad, "stored row skipped");
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// [`skip_bad`] of a single-row read: a bad row reads as no row.
pub(crate) fn skip_bad_opt<T>(row: rusqlite::Result<Option<T>>) -> rusqlite::Result<Option<T>> {
    skip_bad(row).map(Option::flatten)
}

/// Collects rows, leaving out those [`skip_bad`] drops.
pub(crate) fn collect_good<T>(
    rows: impl Iterator<Item = rusqlite::Result<T>>,
) -> rusqlite::Result<Vec<T>> {
    let mut out = Vec::new();
    for row in rows {
        if let Some(v) = skip_bad(row)? {
            out.push(v);
        }
    }
    Ok(out)
}
