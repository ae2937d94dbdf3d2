//! Errors of the simulated Atmosphere: server start-up and control calls.

/// Failures of devnet controls and servers. Tests treat any of these as a test failure.
#[derive(Debug, thiserror::Error)]
pub enum AtmosphereError {
    /// A server could not bind its loopback socket.
    #[error("{name}: cannot bind 127.0.0.1:0: {source}")]
    Bind {
        /// Which server.
        name: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The DID is not hosted on this PDS / not registered in the PLC directory.
    #[error("unknown account {0}")]
    UnknownAccount(String),
    /// The handle is already taken by another account.
    #[error("handle {0} is already taken")]
    HandleTaken(String),
    /// Record path or value rejected (bad collection/rkey, record not a JSON object, ...).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// The record does not exist (update/delete of a missing record).
    #[error("record {0} not found")]
    RecordNotFound(String),
    /// The account is not active, so its repo cannot be written.
    #[error("account {0} is not active")]
    AccountInactive(String),
    /// Encoding a repo structure failed (DAG-CBOR, CAR, signature).
    #[error("repo encoding failed: {0}")]
    Repo(String),
    /// The XMTP stand-in refused an operation.
    #[error("xmtp stand-in: {0}")]
    Xmtp(String),
}
