//! Record data against a lexicon (atproto JSON form): enough to judge every case of the interop
//! `record-data-valid.json` / `record-data-invalid.json` fixtures. String formats are checked
//! by the `syntax` crate's parsers, the production code under test here.

#![allow(dead_code)]

use serde_json::{Map, Value};

/// Why a record does not match its lexicon; the path says where.
pub type Error = String;

/// Checks `data` against the `main` record definition of the lexicon `doc`.
pub fn validate_record(doc: &Value, data: &Value) -> Result<(), Error> {
    let lex = Lexicon {
        id: doc["id"].as_str().ok_or("lexicon without id")?,
        defs: doc["defs"].as_object().ok_or("lexicon without defs")?,
    };
    let main = lex.def("main")?;
    if main["type"] != "record" {
        return Err("main is not a record".into());
    }
    let ty = data["$type"].as_str().ok_or("$type: missing")?;
    if ty != lex.id {
        return Err(format!("$type: {ty} is not {}", lex.id));
    }
    lex.object(&main["record"], data, "record")
}

struct Lexicon<'a> {
    id: &'a str,
    defs: &'a Map<String, Value>,
}

impl Lexicon<'_> {
    fn def(&self, name: &str) -> Result<&Value, Error> {
        self.defs.get(name).ok_or_else(|| format!("no def {name}"))
    }

    /// The local def a full or `#`-relative ref names, when it is in this lexicon.
    fn resolve(&self, r: &str) -> Option<&Value> {
        let (id, name) = r.split_once('#').unwrap_or((r, "main"));
        (id.is_empty() || id == self.id).then(|| self.defs.get(name))?
    }

    fn object(&self, schema: &Value, data: &Value, path: &str) -> Result<(), Error> {
        let o = data
            .as_object()
            .ok_or_else(|| format!("{path}: must be an object"))?;
        for req in strs(&schema["required"]) {
            if !o.contains_key(req) {
                return Err(format!("{path}.{req}: required"));
            }
        }
        let nullable = strs(&schema["nullable"]);
        let empty = Map::new();
        let props = schema["properties"].as_object().unwrap_or(&empty);
        for (key, value) in o {
            let Some(field) = props.get(key) else {
                continue;
            };
            let p = format!("{path}.{key}");
            if value.is_null() {
                if nullable.contains(&key.as_str()) {
                    continue;
                }
                return Err(format!("{p}: not nullable"));
            }
            self.field(field, value, &p)?;
        }
        Ok(())
    }

    fn field(&self, schema: &Value, v: &Value, path: &str) -> Result<(), Error> {
        let bad = |what: &str| Err(format!("{path}: {what}"));
        match schema["type"].as_str().unwrap_or_default() {
            "boolean" if !v.is_boolean() => bad("must be a boolean"),
            "integer" => integer(schema, v, path),
            "string" => string(schema, v, path),
            "bytes" => match bytes_len(v) {
                None => bad("must be a $bytes object"),
                Some(n) => bounded(n, schema, "minLength", "maxLength", path),
            },
            "cid-link" => match link(v) {
                Some(s) if syntax::Cid::parse(s).is_ok() => Ok(()),
                _ => bad("must be a $link object holding a CID"),
            },
            "blob" => blob(schema, v, path),
            "unknown" => match v.as_object() {
                Some(o) if !is_special(o) => Ok(()),
                _ => bad("must be an object (not bytes, a link or a blob)"),
            },
            "array" => {
                let a = v
                    .as_array()
                    .ok_or_else(|| format!("{path}: must be an array"))?;
                bounded(a.len(), schema, "minLength", "maxLength", path)?;
                for (i, item) in a.iter().enumerate() {
                    self.field(&schema["items"], item, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            "object" => self.object(schema, v, path),
            "ref" => {
                let r = schema["ref"].as_str().unwrap_or_default();
                match self.resolve(r) {
                    Some(def) => self.field(def, v, path),
                    None => bad("ref to another lexicon"),
                }
            }
            "union" => self.union(schema, v, path),
            "token" => bad("a token is not a value"),
            _ => Ok(()),
        }
    }

    fn union(&self, schema: &Value, v: &Value, path: &str) -> Result<(), Error> {
        let ty = v["$type"]
            .as_str()
            .ok_or_else(|| format!("{path}: a union member needs $type"))?;
        let ty_full = if ty.contains('#') {
            ty.to_owned()
        } else {
            format!("{ty}#main")
        };
        for r in strs(&schema["refs"]) {
            let full = if r.starts_with('#') {
                format!("{}{r}", self.id)
            } else if r.contains('#') {
                r.to_owned()
            } else {
                format!("{r}#main")
            };
            if full == ty_full {
                let def = self
                    .resolve(&full)
                    .ok_or_else(|| format!("{path}: ref {r} not in this lexicon"))?;
                return self.field(def, v, path);
            }
        }
        if schema["closed"] == true {
            return Err(format!("{path}: {ty} is not in the closed union"));
        }
        Ok(())
    }
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn bounded(n: usize, schema: &Value, min: &str, max: &str, path: &str) -> Result<(), Error> {
    let n = n as u64;
    if schema[min].as_u64().is_some_and(|m| n < m) {
        return Err(format!("{path}: shorter than {min} {}", schema[min]));
    }
    if schema[max].as_u64().is_some_and(|m| n > m) {
        return Err(format!("{path}: longer than {max} {}", schema[max]));
    }
    Ok(())
}

fn integer(schema: &Value, v: &Value, path: &str) -> Result<(), Error> {
    let i = v
        .as_i64()
        .ok_or_else(|| format!("{path}: must be an integer"))?;
    if schema["const"].as_i64().is_some_and(|c| c != i) {
        return Err(format!("{path}: must be {}", schema["const"]));
    }
    if let Some(e) = schema["enum"].as_array()
        && !e.iter().any(|x| x.as_i64() == Some(i))
    {
        return Err(format!("{path}: not in enum"));
    }
    if schema["minimum"].as_i64().is_some_and(|m| i < m)
        || schema["maximum"].as_i64().is_some_and(|m| i > m)
    {
        return Err(format!("{path}: out of range"));
    }
    Ok(())
}

fn string(schema: &Value, v: &Value, path: &str) -> Result<(), Error> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{path}: must be a string"))?;
    bounded(s.len(), schema, "minLength", "maxLength", path)?;
    bounded(graphemes(s), schema, "minGraphemes", "maxGraphemes", path)?;
    if let Some(e) = schema["enum"].as_array()
        && !e.iter().any(|x| x.as_str() == Some(s))
    {
        return Err(format!("{path}: not in enum"));
    }
    if let Some(f) = schema["format"].as_str() {
        format(f, s).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

/// Checks a lexicon string format with the `syntax` crate's parser for it.
fn format(f: &str, s: &str) -> Result<(), String> {
    fn ok<T>(r: Result<T, syntax::SyntaxError>) -> Result<(), String> {
        r.map(|_| ()).map_err(|e| e.to_string())
    }
    match f {
        "did" => ok(syntax::Did::parse(s)),
        "handle" => ok(syntax::Handle::parse(s)),
        "at-identifier" => ok(syntax::AtIdentifier::parse(s)),
        "nsid" => ok(syntax::Nsid::parse(s)),
        "at-uri" => ok(syntax::AtUri::parse(s)),
        "cid" => ok(syntax::Cid::parse(s)),
        "datetime" => ok(syntax::Datetime::parse(s)),
        "language" => ok(syntax::Language::parse(s)),
        "uri" => ok(syntax::Uri::parse(s)),
        "tid" => ok(syntax::Tid::parse(s)),
        "record-key" => ok(syntax::RecordKey::parse(s)),
        other => Err(format!("unknown format {other}")),
    }
}

/// Extended grapheme clusters, approximated for the fixtures: a combining mark, variation
/// selector, emoji modifier, tag, ZWJ or the character after a ZWJ joins the previous cluster,
/// and regional indicators pair up.
fn graphemes(s: &str) -> usize {
    let mut n = 0;
    let mut after_zwj = false;
    let mut open_flag = false;
    for c in s.chars() {
        let u = u32::from(c);
        let extends = matches!(u, 0x300..=0x36F | 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0x200D);
        let regional = (0x1F1E6..=0x1F1FF).contains(&u);
        if !(extends || after_zwj || (regional && open_flag)) {
            n += 1;
        }
        open_flag = regional && !open_flag;
        after_zwj = u == 0x200D;
    }
    n
}

fn link(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    (o.len() == 1).then(|| o.get("$link")?.as_str())?
}

/// The decoded length of a `$bytes` object (unpadded base64).
fn bytes_len(v: &Value) -> Option<usize> {
    let o = v.as_object()?;
    let s = (o.len() == 1).then(|| o.get("$bytes")?.as_str())??;
    let s = s.trim_end_matches('=');
    s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        .then_some(s.len() * 3 / 4)
}

fn is_special(o: &Map<String, Value>) -> bool {
    o.contains_key("$bytes") || o.contains_key("$link") || o.get("$type") == Some(&"blob".into())
}

fn blob(schema: &Value, v: &Value, path: &str) -> Result<(), Error> {
    let o = v
        .as_object()
        .filter(|o| o.get("$type") == Some(&"blob".into()));
    let (Some(size), Some(mime), Some(_)) = (
        o.and_then(|o| o.get("size")?.as_u64()),
        o.and_then(|o| o.get("mimeType")?.as_str()),
        o.and_then(|o| link(o.get("ref")?)),
    ) else {
        return Err(format!("{path}: must be a blob (ref, mimeType, size)"));
    };
    if schema["maxSize"].as_u64().is_some_and(|m| size > m) {
        return Err(format!("{path}: blob larger than maxSize"));
    }
    let accept = strs(&schema["accept"]);
    let accepted = |a: &&str| match a.strip_suffix("/*") {
        Some(top) => mime.split('/').next() == Some(top),
        None => *a == mime || *a == "*/*",
    };
    if !accept.is_empty() && !accept.iter().any(accepted) {
        return Err(format!("{path}: blob type {mime} not accepted"));
    }
    Ok(())
}
