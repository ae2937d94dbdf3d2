//! `Language`: a BCP 47 language tag such as `en-GB` (the lexicon `language` string format).

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// The longest subtag BCP 47 allows.
const MAX_SUBTAG: usize = 8;

/// A BCP 47 language tag, checked the way atproto checks it: a lowercase 2–3 letter primary
/// language (or an `i`/`x` singleton, for grandfathered and private-use tags), then
/// `-`-separated subtags of 1–8 ASCII letters and digits; a variant or an extension singleton
/// must not repeat (RFC 5646 §2.2.5, §2.2.6, case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language(String);

string_newtype!(Language);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::Language, reason)
}

impl Language {
    /// Parses a language tag (see the type's documentation for the rules).
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(Language(s.to_owned()))
    }
}

fn check(s: &str) -> Result<(), SyntaxError> {
    let mut subtags = s.split('-');
    let primary = subtags.next().unwrap_or_default();
    let rest: Vec<&str> = subtags.collect();
    for t in &rest {
        if t.is_empty() || t.len() > MAX_SUBTAG || !t.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return Err(err("subtags are 1 to 8 ASCII letters or digits"));
        }
    }
    match primary.len() {
        1 if primary.eq_ignore_ascii_case("i") || primary.eq_ignore_ascii_case("x") => {
            if rest.is_empty() {
                return Err(err("an 'i' or 'x' prefix needs a subtag after it"));
            }
            // Grandfathered or private use: no structure to check past the prefix.
            return Ok(());
        }
        2 | 3 if primary.bytes().all(|c| c.is_ascii_lowercase()) => {}
        _ => {
            return Err(err(
                "the primary language is 2 or 3 lowercase letters (or 'i-' / 'x-')",
            ));
        }
    }
    no_repeats(&rest)
}

/// Rejects a repeated variant (before the first extension) or a repeated extension singleton.
/// Everything after a private-use `x` singleton is free-form.
fn no_repeats(subtags: &[&str]) -> Result<(), SyntaxError> {
    let mut variants: Vec<String> = Vec::new();
    let mut singletons: Vec<u8> = Vec::new();
    for t in subtags {
        let lower = t.to_ascii_lowercase();
        if lower.len() == 1 {
            if lower == "x" {
                break;
            }
            if singletons.contains(&lower.as_bytes()[0]) {
                return Err(err("an extension singleton is repeated"));
            }
            singletons.push(lower.as_bytes()[0]);
        } else if singletons.is_empty() && is_variant(&lower) {
            if variants.contains(&lower) {
                return Err(err("a variant subtag is repeated"));
            }
            variants.push(lower);
        }
    }
    Ok(())
}

/// A variant subtag: 5–8 letters or digits, or 4 starting with a digit.
fn is_variant(t: &str) -> bool {
    (5..=MAX_SUBTAG).contains(&t.len()) || (t.len() == 4 && t.as_bytes()[0].is_ascii_digit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_refused_for_its_own_reason() {
        assert_eq!(
            Language::parse("de-DE-1901-1901").unwrap_err().reason,
            "a variant subtag is repeated"
        );
        assert_eq!(
            Language::parse("en-u-co-phonebk-U-ca-buddhist")
                .unwrap_err()
                .reason,
            "an extension singleton is repeated"
        );
        // Inside an extension or private use, subtags may repeat.
        Language::parse("en-u-co-phonebk-t-en-US").unwrap();
        Language::parse("en-x-abcde-abcde").unwrap();
    }
}
