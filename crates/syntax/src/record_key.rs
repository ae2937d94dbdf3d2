//! `RecordKey`: the key of a record in a repo collection (ours is always `self`).

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// The longest record key accepted.
const MAX_LEN: usize = 512;

/// A record key: 1..=512 of `[A-Za-z0-9._~:-]`, never `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey(String);

string_newtype!(RecordKey);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::RecordKey, reason)
}

impl RecordKey {
    /// Parses a record key.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(RecordKey(s.to_owned()))
    }
}

/// Validates record-key syntax without allocating.
pub(crate) fn check(s: &str) -> Result<(), SyntaxError> {
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.len() > MAX_LEN {
        return Err(err("longer than 512 characters"));
    }
    if s == "." || s == ".." {
        return Err(err("'.' and '..' are not allowed"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b':' | b'-'))
    {
        return Err(err("may hold only ASCII letters, digits and ._~:-"));
    }
    Ok(())
}
