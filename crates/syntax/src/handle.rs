//! `Handle`: a DNS name by the atproto handle rules, normalised to lowercase.

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// The longest handle (a DNS name) accepted.
const MAX_LEN: usize = 253;
/// The longest label of a DNS name.
const MAX_LABEL: usize = 63;

/// A handle such as `alice.example.com`, always stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(String);

string_newtype!(Handle);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::Handle, reason)
}

impl Handle {
    /// Parses a handle and lowercases it: at least two labels of ASCII letters, digits and
    /// inner hyphens (1..=63 each), the last label starting with a letter, 253 at most.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(Handle(s.to_ascii_lowercase()))
    }
}

/// Validates handle syntax without allocating.
pub(crate) fn check(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_LEN {
        return Err(err("longer than 253 characters"));
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in s.split('.') {
        check_label(label)?;
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err(err("needs at least two dot-separated labels"));
    }
    if !last.as_bytes()[0].is_ascii_alphabetic() {
        return Err(err("the last label must start with a letter"));
    }
    Ok(())
}

fn check_label(label: &str) -> Result<(), SyntaxError> {
    let b = label.as_bytes();
    if b.is_empty() {
        return Err(err("empty label (leading, trailing or double dot)"));
    }
    if b.len() > MAX_LABEL {
        return Err(err("a label is longer than 63 characters"));
    }
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return Err(err("labels may hold only ASCII letters, digits and '-'"));
    }
    if b[0] == b'-' || b[b.len() - 1] == b'-' {
        return Err(err("a label must not start or end with '-'"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_lowercased() {
        assert_eq!(
            Handle::parse("XX.LCS.MIT.EDU").unwrap().as_str(),
            "xx.lcs.mit.edu"
        );
    }
}
