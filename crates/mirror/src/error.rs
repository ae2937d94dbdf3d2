//! [`MirrorError`]: why the follower stopped.

/// Why the follower stopped (network trouble is retried forever and never ends it).
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}
