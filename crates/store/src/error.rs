//! `StoreError`: everything that can go wrong opening, migrating, writing or reading the index.

use std::path::PathBuf;

/// An error of the index.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer xmtp-appview than this binary.
    #[error(
        "database schema version {found} is newer than this binary knows ({known}); \
         upgrade xmtp-appview or use a database made by this version"
    )]
    SchemaTooNew {
        /// The highest version recorded in the database.
        found: i64,
        /// The highest version this binary has.
        known: i64,
    },
    /// A read-only open found a database that still needs migrations.
    #[error(
        "database schema version {found} is older than this binary's ({known}); \
         open it once read-write to migrate it"
    )]
    SchemaTooOld {
        /// The highest version recorded in the database.
        found: i64,
        /// The highest version this binary has.
        known: i64,
    },
    /// A migration failed; nothing of it was applied.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: &'static str,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database file does not exist (read-only opens never create one).
    #[error("no database at {0}")]
    Missing(PathBuf),
    /// A `listLinks` cursor that this server did not produce.
    #[error("invalid cursor: {0}")]
    BadCursor(&'static str),
    /// The transaction holding this batch could not be committed; nothing of it was written.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The writer thread stopped (it panicked or the process is shutting down).
    #[error("the index writer has stopped")]
    WriterGone,
    /// A filesystem or thread error while opening the store.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A blocking read task was cancelled or panicked.
    #[error("read task failed: {0}")]
    Task(String),
}
