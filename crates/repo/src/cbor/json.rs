//! Conversion between DAG-CBOR values and the atproto JSON form (`{"$link": cid}`,
//! `{"$bytes": base64}`), used for fixtures, devnet records and debugging output.

use serde_json::Value as Json;

use super::read::{CborError, Map, Value};
use super::write::Encoder;
use crate::cid_util::parse_cid;

/// Why a JSON value could not become DAG-CBOR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// A non-integer number (the data model has no floats).
    #[error("non-integer number {0}")]
    Float(String),
    /// A malformed `$link` or `$bytes` object.
    #[error("malformed {0} object")]
    Special(&'static str),
    /// The top level is not an object (a record, a frame header or body always is).
    #[error("the top level must be an object")]
    NotAnObject,
    /// A `$type` that is not a non-empty string.
    #[error("$type must be a non-empty string")]
    Type,
    /// A `{"$type": "blob"}` object without its `ref` link, `mimeType` string or integer `size`.
    #[error("malformed blob: {0}")]
    Blob(&'static str),
    /// Nesting too deep.
    #[error("JSON nesting too deep")]
    TooDeep,
    /// Encoding failure.
    #[error(transparent)]
    Cbor(#[from] CborError),
}

const MAX_DEPTH: usize = 64;

/// Checks an object's `$type`, and a blob's fields.
fn check_type(t: &Json, obj: &serde_json::Map<String, Json>) -> Result<(), JsonError> {
    match t.as_str() {
        Some("") | None => Err(JsonError::Type),
        Some("blob") => {
            if !obj
                .get("ref")
                .and_then(Json::as_object)
                .is_some_and(|r| r.contains_key("$link"))
            {
                return Err(JsonError::Blob("no ref link"));
            }
            if !obj.get("mimeType").is_some_and(Json::is_string) {
                return Err(JsonError::Blob("no mimeType string"));
            }
            if !obj.get("size").is_some_and(|s| s.is_i64() || s.is_u64()) {
                return Err(JsonError::Blob("size is not an integer"));
            }
            Ok(())
        }
        Some(_) => Ok(()),
    }
}

/// Encodes atproto JSON as canonical DAG-CBOR, enforcing the data model: the top level is an
/// object, no real floats, `$link`/`$bytes` objects hold only that key, `$type` is a non-empty
/// string and a blob has its `ref`, `mimeType` and integer `size`.
pub fn json_to_cbor(json: &Json) -> Result<Vec<u8>, JsonError> {
    if !json.is_object() {
        return Err(JsonError::NotAnObject);
    }
    let mut e = Encoder::new();
    write_json(&mut e, json, 0)?;
    Ok(e.into_bytes())
}

fn write_json(e: &mut Encoder, json: &Json, depth: usize) -> Result<(), JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError::TooDeep);
    }
    match json {
        Json::Null => {
            e.null();
        }
        Json::Bool(b) => {
            e.bool(*b);
        }
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                e.int(i);
            } else if let Some(u) = n.as_u64() {
                e.uint(u);
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                        e.int(f as i64);
                    }
                    _ => return Err(JsonError::Float(n.to_string())),
                }
            }
        }
        Json::String(s) => {
            e.text(s);
        }
        Json::Array(items) => {
            e.array(items.len());
            for item in items {
                write_json(e, item, depth + 1)?;
            }
        }
        Json::Object(obj) => {
            if let Some(link) = obj.get("$link") {
                let cid = link
                    .as_str()
                    .filter(|_| obj.len() == 1)
                    .and_then(|s| parse_cid(s).ok())
                    .ok_or(JsonError::Special("$link"))?;
                e.link(&cid);
                return Ok(());
            }
            if let Some(b) = obj.get("$bytes") {
                let bytes = b
                    .as_str()
                    .filter(|_| obj.len() == 1)
                    .and_then(base64_decode)
                    .ok_or(JsonError::Special("$bytes"))?;
                e.bytes(&bytes);
                return Ok(());
            }
            if let Some(t) = obj.get("$type") {
                check_type(t, obj)?;
            }
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort_by(|a, b| (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes())));
            e.map(keys.len());
            for k in keys {
                e.text(k);
                write_json(e, &obj[k.as_str()], depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Renders a value as atproto JSON.
pub fn to_json(v: &Value<'_>) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => i64::try_from(*i)
            .map(Json::from)
            .or_else(|_| u64::try_from(*i).map(Json::from))
            .unwrap_or_else(|_| Json::String(i.to_string())),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Bytes(b) => serde_json::json!({ "$bytes": base64_encode(b) }),
        Value::Text(s) => Json::String((*s).to_string()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(Map(entries)) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_string(), to_json(v)))
                .collect(),
        ),
        Value::Link(c) => serde_json::json!({ "$link": c.to_string() }),
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Standard base64, padding optional.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}
