//! Runs every line of the atproto interop syntax fixtures (`testdata/`) through our parsers.
//!
//! Lines starting with `#` and blank lines are skipped, as the fixtures document; other lines
//! are used untrimmed (whitespace is part of a case). Each test asserts how many cases it ran.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use syntax::{
    AtIdentifier, AtUri, Cid, Datetime, Did, Handle, Language, Nsid, RecordKey, Tid, Uri,
};

fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/atproto-interop-tests/syntax"
    ));
    assert!(
        dir.is_dir(),
        "test vectors missing at {}: the syntax fixtures are required",
        dir.display()
    );
    dir
}

/// The cases of one fixture file.
fn cases(file: &str) -> Vec<String> {
    let path = vectors_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Checks every case of `<name>_syntax_valid.txt` and `<name>_syntax_invalid.txt` (and
/// `<name>_parse_invalid.txt` when given) and returns (valid, invalid) counts.
fn check<T, E: std::fmt::Debug>(
    name: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    extra_invalid: Option<&str>,
) -> (usize, usize) {
    let valid = cases(&format!("{name}_syntax_valid.txt"));
    let mut invalid = cases(&format!("{name}_syntax_invalid.txt"));
    if let Some(f) = extra_invalid {
        invalid.extend(cases(f));
    }
    let mut failures = Vec::new();
    for case in &valid {
        if let Err(e) = parse(case) {
            failures.push(format!("rejected valid {case:?}: {e:?}"));
        }
    }
    for case in &invalid {
        if parse(case).is_ok() {
            failures.push(format!("accepted invalid {case:?}"));
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    (valid.len(), invalid.len())
}

#[test]
fn every_did_fixture_line_is_classified_correctly() {
    assert_eq!(check("did", Did::parse, None), (24, 18));
}

#[test]
fn every_handle_fixture_line_is_classified_correctly() {
    assert_eq!(check("handle", Handle::parse, None), (71, 48));
}

#[test]
fn every_atidentifier_fixture_line_is_classified_correctly() {
    assert_eq!(check("atidentifier", AtIdentifier::parse, None), (11, 22));
}

#[test]
fn every_nsid_fixture_line_is_classified_correctly() {
    assert_eq!(check("nsid", Nsid::parse, None), (25, 27));
}

#[test]
fn every_recordkey_fixture_line_is_classified_correctly() {
    assert_eq!(check("recordkey", RecordKey::parse, None), (16, 11));
}

#[test]
fn every_tid_fixture_line_is_classified_correctly() {
    assert_eq!(check("tid", Tid::parse, None), (4, 9));
}

#[test]
fn every_datetime_fixture_line_is_classified_correctly() {
    let counts = check(
        "datetime",
        Datetime::parse,
        Some("datetime_parse_invalid.txt"),
    );
    assert_eq!(counts, (35, 45 + 7));
}

#[test]
fn every_cid_fixture_line_is_classified_correctly() {
    assert_eq!(check("cid", Cid::parse, None), (8, 10));
}

#[test]
fn every_aturi_fixture_line_is_classified_correctly() {
    assert_eq!(check("aturi", AtUri::parse, None), (23, 72));
}

#[test]
fn every_language_fixture_line_is_classified_correctly() {
    let counts = check(
        "language",
        Language::parse,
        Some("language_parse_invalid.txt"),
    );
    assert_eq!(counts, (18, 7 + 4));
}

#[test]
fn every_uri_fixture_line_is_classified_correctly() {
    assert_eq!(check("uri", Uri::parse, None), (9, 12));
}

#[test]
fn serde_round_trips_and_revalidates() {
    let did: Did = serde_json::from_str("\"did:plc:abc\"").unwrap();
    assert_eq!(serde_json::to_string(&did).unwrap(), "\"did:plc:abc\"");
    assert!(serde_json::from_str::<Did>("\"did:PLC:abc\"").is_err());
    let h: Handle = serde_json::from_str("\"Alice.Test\"").unwrap();
    assert_eq!(h.as_str(), "alice.test");
}
