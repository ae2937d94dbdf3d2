//! Backfill: find every repo that holds `org.xmtp.inbox` and index its record.
