//! `Cid`: the string syntax of a CID as atproto accepts it (no decoding, see the `repo` crate).

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// A CID string: 8..=256 of `[A-Za-z0-9+=]`, never a CIDv0 (`Qm...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid(String);

string_newtype!(Cid);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::Cid, reason)
}

impl Cid {
    /// Checks the lexical form only; whether the multibase/multihash decodes is not checked.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        if s.len() < 8 || s.len() > 256 {
            return Err(err("must be 8 to 256 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'=')
        {
            return Err(err("may hold only ASCII letters, digits, '+' and '='"));
        }
        if s.starts_with("Qm") {
            return Err(err("CIDv0 is not allowed"));
        }
        Ok(Cid(s.to_owned()))
    }
}
