//! [`BackfillError`]: what stops a backfill as a whole (one DID's failure never does).

/// Why the backfill could not run.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The index could not be read or written.
    #[error("index: {0}")]
    Store(#[from] store::StoreError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
    /// No discovery service is configured.
    #[error("no discovery service configured")]
    NoDiscovery,
}
