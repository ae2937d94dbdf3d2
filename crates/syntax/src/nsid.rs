//! `Nsid`: a namespaced identifier such as `org.xmtp.identity.resolveActor`.

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// The longest NSID accepted.
const MAX_LEN: usize = 317;
/// The longest segment accepted.
const MAX_SEGMENT: usize = 63;

/// A namespaced identifier: a reversed domain authority plus a name segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nsid(String);

string_newtype!(Nsid);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::Nsid, reason)
}

impl Nsid {
    /// Parses an NSID: three or more dot-separated segments; the domain segments hold ASCII
    /// letters, digits and inner hyphens (the first must not start with a digit); the final
    /// name segment holds letters and digits and starts with a letter.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(Nsid(s.to_owned()))
    }

    /// The final segment (`resolveActor` in `org.xmtp.identity.resolveActor`).
    pub fn name(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or_default()
    }

    /// The reversed domain authority (everything before the name).
    pub fn authority(&self) -> &str {
        self.0.rsplit_once('.').map(|(a, _)| a).unwrap_or_default()
    }
}

fn check(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_LEN {
        return Err(err("longer than 317 characters"));
    }
    let segments: Vec<&str> = s.split('.').collect();
    if segments.len() < 3 {
        return Err(err("needs at least three dot-separated segments"));
    }
    let (name, domain) = segments
        .split_last()
        .ok_or_else(|| err("needs at least three dot-separated segments"))?;
    for (i, seg) in domain.iter().enumerate() {
        let b = seg.as_bytes();
        if b.is_empty() {
            return Err(err("empty segment"));
        }
        if b.len() > MAX_SEGMENT {
            return Err(err("a segment is longer than 63 characters"));
        }
        if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
            return Err(err(
                "domain segments may hold only ASCII letters, digits and '-'",
            ));
        }
        if b[0] == b'-' || b[b.len() - 1] == b'-' {
            return Err(err("a domain segment must not start or end with '-'"));
        }
        if i == 0 && b[0].is_ascii_digit() {
            return Err(err("the first segment must not start with a digit"));
        }
    }
    let b = name.as_bytes();
    if b.is_empty() {
        return Err(err("empty name segment"));
    }
    if b.len() > MAX_SEGMENT {
        return Err(err("the name segment is longer than 63 characters"));
    }
    if !b[0].is_ascii_alphabetic() || !b.iter().all(|c| c.is_ascii_alphanumeric()) {
        return Err(err(
            "the name must be ASCII letters and digits, starting with a letter",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn name_and_authority_split_at_the_last_dot() {
        let n = Nsid::parse("org.xmtp.identity.resolveActor").unwrap();
        assert_eq!(n.name(), "resolveActor");
        assert_eq!(n.authority(), "org.xmtp.identity");
    }
}
