//! A small structural validator of Lexicon schema documents (lexicon v1): enough to reject
//! every document of the interop `lexicon-invalid.json` fixture and to hold our own lexicons
//! to the same rules. It checks shapes and names, not record data.

#![allow(dead_code)]

use serde_json::{Map, Value};

/// Why a document is not a valid lexicon; the path says where.
pub type Error = String;

const PRIMARY: &[&str] = &[
    "record",
    "query",
    "procedure",
    "subscription",
    "permission-set",
];
const FIELD: &[&str] = &[
    "boolean", "integer", "string", "bytes", "cid-link", "blob", "unknown", "array", "object",
    "ref", "union",
];
const TOP_LEVEL_ONLY: &[&str] = &["token"];
const PARAM_FIELD: &[&str] = &["boolean", "integer", "string", "unknown", "array"];
const STRING_FORMATS: &[&str] = &[
    "at-identifier",
    "at-uri",
    "cid",
    "datetime",
    "did",
    "handle",
    "nsid",
    "tid",
    "record-key",
    "uri",
    "language",
];

fn obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Error> {
    v.as_object()
        .ok_or_else(|| format!("{path}: must be an object"))
}

fn opt_str(o: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, Error> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{path}.{key}: must be a string")),
    }
}

fn opt_int(o: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>, Error> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{path}.{key}: must be an integer")),
    }
}

fn opt_bool(o: &Map<String, Value>, key: &str, path: &str) -> Result<(), Error> {
    match o.get(key) {
        None | Some(Value::Bool(_)) => Ok(()),
        Some(_) => Err(format!("{path}.{key}: must be a boolean")),
    }
}

fn string_list(o: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<String>, Error> {
    match o.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{path}.{key}: must hold strings"))
            })
            .collect(),
        Some(_) => Err(format!("{path}.{key}: must be an array")),
    }
}

/// A reference: `#name`, `nsid` or `nsid#name`.
fn check_ref(r: &str, path: &str) -> Result<(), Error> {
    let (nsid, name) = r.split_once('#').unwrap_or((r, ""));
    if r.contains('#') && name.is_empty() {
        return Err(format!("{path}: empty fragment in ref {r:?}"));
    }
    if !nsid.is_empty() {
        syntax::Nsid::parse(nsid).map_err(|e| format!("{path}: ref {r:?}: {e}"))?;
    } else if name.is_empty() {
        return Err(format!("{path}: empty ref"));
    }
    Ok(())
}

fn type_of<'a>(o: &'a Map<String, Value>, path: &str) -> Result<&'a str, Error> {
    o.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}.type: missing or not a string"))
}

/// Validates one whole lexicon document.
pub fn validate(doc: &Value) -> Result<(), Error> {
    let o = obj(doc, "$")?;
    if o.get("lexicon").and_then(Value::as_i64) != Some(1) {
        return Err("$.lexicon: must be the integer 1".into());
    }
    let id = o
        .get("id")
        .and_then(Value::as_str)
        .ok_or("$.id: missing or not a string")?;
    syntax::Nsid::parse(id).map_err(|e| format!("$.id: {e}"))?;
    opt_int(o, "revision", "$")?;
    opt_str(o, "description", "$")?;
    let defs = obj(o.get("defs").ok_or("$.defs: missing")?, "$.defs")?;
    for (name, def) in defs {
        let path = format!("$.defs.{name}");
        let d = obj(def, &path)?;
        let ty = type_of(d, &path)?;
        if PRIMARY.contains(&ty) {
            if name != "main" {
                return Err(format!("{path}: a {ty} may only be the main definition"));
            }
            check_primary(ty, d, &path)?;
        } else if TOP_LEVEL_ONLY.contains(&ty) {
            opt_str(d, "description", &path)?;
        } else if matches!(ty, "ref" | "union" | "unknown") {
            return Err(format!("{path}: a {ty} cannot be a named definition"));
        } else {
            check_field(d, &path, FIELD)?;
        }
    }
    Ok(())
}

fn check_primary(ty: &str, d: &Map<String, Value>, path: &str) -> Result<(), Error> {
    opt_str(d, "description", path)?;
    match ty {
        "record" => {
            let key = opt_str(d, "key", path)?.ok_or(format!("{path}.key: missing"))?;
            let ok = matches!(key.as_str(), "any" | "tid" | "nsid")
                || key
                    .strip_prefix("literal:")
                    .is_some_and(|k| syntax::RecordKey::parse(k).is_ok());
            if !ok {
                return Err(format!(
                    "{path}.key: {key:?} is not any, tid, nsid or literal:<key>"
                ));
            }
            let rpath = format!("{path}.record");
            let rec = obj(d.get("record").ok_or(format!("{rpath}: missing"))?, &rpath)?;
            if rec.get("type").and_then(Value::as_str) != Some("object") {
                return Err(format!("{rpath}: must be of type object"));
            }
            check_field(rec, &rpath, &["object"])
        }
        "query" | "procedure" | "subscription" => {
            if let Some(p) = d.get("parameters") {
                check_params(
                    obj(p, &format!("{path}.parameters"))?,
                    &format!("{path}.parameters"),
                )?;
            }
            for body in ["input", "output"] {
                if let Some(b) = d.get(body) {
                    if ty != "procedure" && body == "input" {
                        return Err(format!("{path}.input: only procedures take input"));
                    }
                    let bpath = format!("{path}.{body}");
                    let b = obj(b, &bpath)?;
                    opt_str(b, "encoding", &bpath)?.ok_or(format!("{bpath}.encoding: missing"))?;
                    if let Some(s) = b.get("schema") {
                        check_field(
                            obj(s, &bpath)?,
                            &format!("{bpath}.schema"),
                            &["object", "ref", "union"],
                        )?;
                    }
                }
            }
            if ty == "subscription"
                && let Some(m) = d.get("message")
            {
                let mpath = format!("{path}.message");
                let s = obj(m, &mpath)?
                    .get("schema")
                    .ok_or(format!("{mpath}.schema: missing"))?;
                check_field(obj(s, &mpath)?, &format!("{mpath}.schema"), &["union"])?;
            }
            if let Some(errors) = d.get("errors") {
                let a = errors
                    .as_array()
                    .ok_or(format!("{path}.errors: must be an array"))?;
                for (i, e) in a.iter().enumerate() {
                    let epath = format!("{path}.errors[{i}]");
                    let e = obj(e, &epath)?;
                    opt_str(e, "name", &epath)?.ok_or(format!("{epath}.name: missing"))?;
                    opt_str(e, "description", &epath)?;
                }
            }
            Ok(())
        }
        "permission-set" => {
            let a = d
                .get("permissions")
                .and_then(Value::as_array)
                .ok_or(format!("{path}.permissions: must be an array"))?;
            for (i, p) in a.iter().enumerate() {
                let ppath = format!("{path}.permissions[{i}]");
                let p = obj(p, &ppath)?;
                if type_of(p, &ppath)? != "permission" {
                    return Err(format!("{ppath}.type: must be permission"));
                }
                opt_str(p, "resource", &ppath)?.ok_or(format!("{ppath}.resource: missing"))?;
            }
            Ok(())
        }
        _ => Err(format!("{path}: unknown primary type {ty}")),
    }
}

fn check_params(p: &Map<String, Value>, path: &str) -> Result<(), Error> {
    if type_of(p, path)? != "params" {
        return Err(format!("{path}.type: must be params"));
    }
    check_properties(p, path, PARAM_FIELD)
}

/// `required` and `nullable` must name properties; each property is a field schema.
fn check_properties(o: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), Error> {
    let empty = Map::new();
    let props = match o.get("properties") {
        None => &empty,
        Some(p) => obj(p, &format!("{path}.properties"))?,
    };
    for (name, field) in props {
        let fpath = format!("{path}.properties.{name}");
        check_field(obj(field, &fpath)?, &fpath, allowed)?;
    }
    for list in ["required", "nullable"] {
        for name in string_list(o, list, path)? {
            if !props.contains_key(&name) {
                return Err(format!("{path}.{list}: {name:?} is not a property"));
            }
        }
    }
    Ok(())
}

/// A field schema whose type must be one of `allowed`.
fn check_field(f: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), Error> {
    let ty = type_of(f, path)?;
    if !allowed.contains(&ty) {
        return Err(format!("{path}: type {ty:?} is not allowed here"));
    }
    opt_str(f, "description", path)?;
    match ty {
        "boolean" => {
            opt_bool(f, "default", path)?;
            opt_bool(f, "const", path)
        }
        "integer" => {
            for k in ["minimum", "maximum", "default", "const"] {
                opt_int(f, k, path)?;
            }
            if let Some(Value::Array(a)) = f.get("enum")
                && a.iter().any(|v| !v.is_i64())
            {
                return Err(format!("{path}.enum: must hold integers"));
            }
            Ok(())
        }
        "string" => {
            if let Some(fmt) = opt_str(f, "format", path)?
                && !STRING_FORMATS.contains(&fmt.as_str())
            {
                return Err(format!("{path}.format: unknown format {fmt:?}"));
            }
            for k in ["minLength", "maxLength", "minGraphemes", "maxGraphemes"] {
                opt_int(f, k, path)?;
            }
            opt_str(f, "default", path)?;
            opt_str(f, "const", path)?;
            string_list(f, "enum", path)?;
            string_list(f, "knownValues", path)?;
            Ok(())
        }
        "bytes" => {
            opt_int(f, "minLength", path)?;
            opt_int(f, "maxLength", path).map(|_| ())
        }
        "blob" => {
            string_list(f, "accept", path)?;
            opt_int(f, "maxSize", path).map(|_| ())
        }
        "cid-link" | "unknown" => Ok(()),
        "array" => {
            opt_int(f, "minLength", path)?;
            opt_int(f, "maxLength", path)?;
            let ipath = format!("{path}.items");
            let items = obj(f.get("items").ok_or(format!("{ipath}: missing"))?, &ipath)?;
            let inner: &[&str] = if allowed == PARAM_FIELD {
                &["boolean", "integer", "string", "unknown"]
            } else {
                FIELD
            };
            check_field(items, &ipath, inner)
        }
        "object" => check_properties(f, path, FIELD),
        "ref" => {
            let r = opt_str(f, "ref", path)?.ok_or(format!("{path}.ref: missing"))?;
            check_ref(&r, &format!("{path}.ref"))
        }
        "union" => {
            opt_bool(f, "closed", path)?;
            if f.get("refs").is_none() {
                return Err(format!("{path}.refs: missing"));
            }
            for r in string_list(f, "refs", path)? {
                check_ref(&r, &format!("{path}.refs"))?;
            }
            Ok(())
        }
        other => Err(format!("{path}: unknown type {other:?}")),
    }
}

/// Every `ref` string in a document (with `#name` refs made absolute with `id`).
pub fn refs(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, id: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                let is_ref = o.get("type").and_then(Value::as_str) == Some("ref");
                for (k, child) in o {
                    match (k.as_str(), child) {
                        ("ref", Value::String(r)) if is_ref => out.push(absolute(r, id)),
                        ("refs", Value::Array(a)) => {
                            out.extend(a.iter().filter_map(Value::as_str).map(|r| absolute(r, id)))
                        }
                        _ => walk(child, id, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, id, out)),
            _ => {}
        }
    }
    fn absolute(r: &str, id: &str) -> String {
        if r.starts_with('#') {
            format!("{id}{r}")
        } else if r.contains('#') {
            r.to_owned()
        } else {
            format!("{r}#main")
        }
    }
    let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    walk(doc, id, &mut out);
    out
}
