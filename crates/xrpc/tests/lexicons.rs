//! Our lexicons obey the lexicon rules (checked with a validator that is itself tested on the
//! interop lexicon fixtures), and routes and query lexicons match one to one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::lexicon::{refs, validate};
use crate::support::record_data::validate_record;
use crate::support::server::TestServer;

fn fixture(name: &str) -> Vec<(String, Value)> {
    let path = crate::support::testdata("atproto-interop-tests/lexicon").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("lexicon fixture missing at {}: {e}", path.display()));
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    cases
        .into_iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["lexicon"].clone()))
        .collect()
}

#[test]
fn validator_accepts_every_valid_lexicon_fixture() {
    let cases = fixture("lexicon-valid.json");
    for (name, doc) in &cases {
        validate(doc).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(cases.len(), 3);
}

#[test]
fn validator_rejects_every_invalid_lexicon_fixture() {
    let cases = fixture("lexicon-invalid.json");
    for (name, doc) in &cases {
        assert!(validate(doc).is_err(), "{name} was accepted");
    }
    assert_eq!(cases.len(), 7);
}

#[test]
fn validator_accepts_every_catalog_schema() {
    let files = json_files(&crate::support::testdata(
        "atproto-interop-tests/lexicon/catalog",
    ));
    for (path, doc) in &files {
        validate(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    assert_eq!(files.len(), 5);
}

/// The cases of a record-data fixture: (name, rkey, data).
fn record_cases(name: &str) -> Vec<(String, String, Value)> {
    let path = crate::support::testdata("atproto-interop-tests/lexicon").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("record-data fixture missing at {}: {e}", path.display()));
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    cases
        .into_iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_owned();
            (
                name,
                c["rkey"].as_str().unwrap().to_owned(),
                c["data"].clone(),
            )
        })
        .collect()
}

fn catalog_record() -> Value {
    let path = crate::support::testdata("atproto-interop-tests/lexicon/catalog/record.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_valid_record_data_fixture_passes_the_catalog_record_lexicon() {
    let doc = catalog_record();
    let cases = record_cases("record-data-valid.json");
    for (name, rkey, data) in &cases {
        syntax::RecordKey::parse(rkey).unwrap();
        validate_record(&doc, data).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(cases.len(), 3);
}

#[test]
fn every_invalid_record_data_fixture_is_refused_at_the_right_field() {
    let doc = catalog_record();
    let cases = record_cases("record-data-invalid.json");
    let refused_at = |name: &str, data: &Value, field: &str| {
        let err = validate_record(&doc, data).expect_err(name);
        assert!(
            err.starts_with(&format!("record.{field}")),
            "{name}: refused for {err:?}, not at {field}"
        );
    };
    for (name, _, data) in &cases {
        // The reason names the offending field: the one key besides $type and integer.
        let field = data
            .as_object()
            .unwrap()
            .keys()
            .find(|k| !["$type", "integer"].contains(&k.as_str()))
            .map_or("integer", String::as_str);
        if data.get("integer").is_none() && field != "integer" {
            // The `unknown` cases also lack the required field: refused for that, and still
            // refused at their own field once it is there.
            refused_at(name, data, "integer");
            let mut fixed = data.clone();
            fixed["integer"] = 1.into();
            refused_at(name, &fixed, field);
        } else {
            refused_at(name, data, field);
        }
    }
    assert_eq!(cases.len(), 50);
}

fn lexicon_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../lexicons"))
}

fn json_files(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let doc = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
                out.push((path, doc));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Our lexicons, keyed by id.
fn ours() -> Vec<(String, Value)> {
    json_files(&lexicon_dir())
        .into_iter()
        .map(|(path, doc)| {
            let id = doc["id"].as_str().unwrap_or_default().to_owned();
            let rel = path.strip_prefix(lexicon_dir()).unwrap();
            let expected = rel.with_extension("").to_string_lossy().replace('/', ".");
            assert_eq!(
                id,
                expected,
                "{} must hold lexicon {expected}",
                path.display()
            );
            (id, doc)
        })
        .collect()
}

#[test]
fn every_lexicon_of_ours_is_valid_and_its_refs_resolve() {
    let docs = ours();
    let mut defined = BTreeSet::new();
    for (id, doc) in &docs {
        validate(doc).unwrap_or_else(|e| panic!("{id}: {e}"));
        for name in doc["defs"].as_object().unwrap().keys() {
            defined.insert(format!("{id}#{name}"));
        }
    }
    for (id, doc) in &docs {
        for r in refs(doc) {
            assert!(defined.contains(&r), "{id}: ref {r} resolves to nothing");
        }
    }
    let record = docs.iter().find(|(id, _)| id == "org.xmtp.inbox").unwrap();
    assert_eq!(record.1["defs"]["main"]["key"], "literal:self");
    assert_eq!(
        docs.len(),
        9,
        "the record, defs, six queries and one subscription"
    );
}

#[tokio::test]
async fn every_route_has_a_lexicon_and_every_query_lexicon_a_route() {
    let queries: BTreeSet<String> = ours()
        .into_iter()
        .filter(|(_, doc)| doc["defs"]["main"]["type"] == "query")
        .map(|(id, _)| id)
        .collect();
    let routes: BTreeSet<String> = xrpc::QUERY_METHODS.iter().map(|m| m.to_string()).collect();
    assert_eq!(queries, routes);
    let subscriptions: BTreeSet<String> = ours()
        .into_iter()
        .filter(|(_, doc)| doc["defs"]["main"]["type"] == "subscription")
        .map(|(id, _)| id)
        .collect();
    let streams: BTreeSet<String> = xrpc::SUBSCRIPTION_METHODS
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(subscriptions, streams);
    // And the router really serves each of them (anything but XRPCNotSupported).
    let s = TestServer::start().await;
    for nsid in queries.iter().chain(&subscriptions) {
        let r = s.get(&format!("/xrpc/{nsid}")).await;
        assert_ne!(r.json()["error"], "XRPCNotSupported", "{nsid}");
    }
}
