//! The compact column encodings of the `links` table (migration 0008). SQLite stores bytes
//! and integers; the link view renders the very strings the record carried.
//!
//! Invariant: a value is stored in binary only when rendering it back gives the same string
//! byte for byte (checked when written); anything else (a malformed record's field, a
//! non-canonical encoding) is stored as the text it was. So every column's value is a pure
//! function of the string, and equality on the stored form is equality on the string.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, Type, Value, ValueRef};

use crate::reason::ReasonCode;
use crate::render;
use crate::time::parse_datetime;

const DID_PLC: &str = "did:plc:";
/// First byte of a packed did:plc (a DID in text starts with `d`, so never with this).
const PLC_TAG: u8 = 1;

/// Every byte's rank in `render::PLC_SORTED` (its value: packed identifiers sort exactly
/// like their text), or `NOT_PLC` for a byte outside the alphabet.
static PLC_RANK: [u8; 256] = {
    let mut t = [NOT_PLC; 256];
    let mut i = 0;
    while i < 32 {
        t[render::PLC_SORTED[i] as usize] = i as u8;
        i += 1;
    }
    t
};
const NOT_PLC: u8 = 0xff;

/// The 60 bits of 12 did:plc symbols; `None` if one is outside the alphabet.
fn plc_half(symbols: &[u8]) -> Option<u64> {
    let mut acc = 0u64;
    let mut bad = 0u8;
    for &c in symbols {
        let v = PLC_RANK[usize::from(c)];
        bad |= v;
        acc = (acc << 5) | u64::from(v & 31);
    }
    // Ranks are below 32, so only NOT_PLC sets the top bits.
    (bad & 0xe0 == 0).then_some(acc)
}

/// The stored key of a DID: a did:plc with its 24-symbol identifier packed into 16 bytes
/// (a tag, then 120 bits), any other DID as its UTF-8 bytes. Keys sort like the DIDs they
/// encode, except that every packed did:plc sorts before every other DID.
pub fn did_key(did: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    push_did_key(did, &mut out);
    out
}

/// Appends the stored key of `did` ([`did_key`]) to `out`.
pub(crate) fn push_did_key(did: &str, out: &mut Vec<u8>) {
    if let Some(id) = did.strip_prefix(DID_PLC).filter(|id| id.len() == 24) {
        let (first, second) = id.as_bytes().split_at(12);
        if let (Some(hi), Some(lo)) = (plc_half(first), plc_half(second)) {
            let acc = (u128::from(hi) << 60) | u128::from(lo);
            out.push(PLC_TAG);
            out.extend_from_slice(&acc.to_be_bytes()[1..]);
            return;
        }
    }
    out.extend_from_slice(did.as_bytes());
}

/// Appends the DID of a stored key, unescaped (a packed did:plc needs no escaping).
fn push_did_raw(key: &[u8], out: &mut Vec<u8>) -> bool {
    match key.split_first() {
        Some((&PLC_TAG, packed)) => match <&[u8; 15]>::try_from(packed) {
            Ok(packed) => {
                out.extend_from_slice(DID_PLC.as_bytes());
                render::plc_id(packed, out);
                true
            }
            Err(_) => false,
        },
        _ => false,
    }
}

/// The DID a stored key encodes.
pub(crate) fn did_from_key(key: &[u8]) -> String {
    let mut out = Vec::with_capacity(32);
    if push_did_raw(key, &mut out) {
        return out.into_iter().map(char::from).collect();
    }
    String::from_utf8_lossy(key).into_owned()
}

/// Appends the DID of a stored key as the body of a JSON string (escaped, no quotes).
pub(crate) fn push_did_json(key: &[u8], out: &mut Vec<u8>) {
    if !push_did_raw(key, out) {
        crate::json::push_escaped(out, &String::from_utf8_lossy(key));
    }
}

/// The DID of a stored-key column.
pub(crate) fn did_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<String> {
    match row.get_ref(idx)? {
        ValueRef::Blob(b) => Ok(did_from_key(b)),
        ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
        other => Err(rusqlite::Error::InvalidColumnType(
            idx,
            "did".into(),
            other.data_type(),
        )),
    }
}

/// The bytes of unpadded lower-case RFC 4648 base32; `None` on any other symbol.
pub(crate) fn b32_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in text {
        let v = match c {
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// How one column is stored in binary, and rendered back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    /// Multibase base32 (`b...`): a CID.
    Cid,
    /// Standard padded base64: a signature.
    Base64,
    /// Lower-case hex: an inbox ID or an installation key.
    Hex,
    /// An atproto datetime `YYYY-MM-DDTHH:MM:SS.mmmZ`, as unix milliseconds.
    Time,
}

/// Appends the rendering of stored binary/integer `v` (not text) as ASCII.
fn push_binary(col: Col, v: ValueRef<'_>, out: &mut Vec<u8>) -> bool {
    match (col, v) {
        (Col::Cid, ValueRef::Blob(b)) => {
            out.push(b'b');
            render::base32(b, out);
        }
        (Col::Base64, ValueRef::Blob(b)) => render::base64(b, out),
        (Col::Hex, ValueRef::Blob(b)) => render::hex(b, out),
        (Col::Time, ValueRef::Integer(ms)) => out.extend_from_slice(&render::datetime(ms)),
        _ => return false,
    }
    true
}

/// The form to store `s` in for `col`: binary when it renders back to `s`, else the text.
pub(crate) fn encode(col: Col, s: &str) -> ToSqlOutput<'_> {
    let value = match col {
        Col::Cid => s
            .strip_prefix('b')
            .and_then(|t| b32_decode(t.as_bytes()))
            .map(Value::Blob),
        Col::Base64 => STANDARD.decode(s).ok().map(Value::Blob),
        Col::Hex => hex::decode(s).ok().map(Value::Blob),
        Col::Time => parse_datetime(s).map(Value::Integer),
    };
    match value {
        Some(v) => {
            let mut back = Vec::with_capacity(s.len());
            if push_binary(col, ValueRef::from(&v), &mut back) && back == s.as_bytes() {
                ToSqlOutput::Owned(v)
            } else {
                ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
            }
        }
        None => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
    }
}

/// [`encode`] for an optional value (`NULL` stays `NULL`).
pub(crate) fn encode_opt(col: Col, s: Option<&str>) -> ToSqlOutput<'_> {
    match s {
        Some(s) => encode(col, s),
        None => ToSqlOutput::Owned(Value::Null),
    }
}

/// The string a stored value renders to; `None` for `NULL`.
pub(crate) fn render(col: Col, v: ValueRef<'_>) -> Result<Option<String>, Type> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => Ok(Some(String::from_utf8_lossy(t).into_owned())),
        v => {
            let mut out = Vec::with_capacity(96);
            if push_binary(col, v, &mut out) {
                Ok(Some(out.into_iter().map(char::from).collect()))
            } else {
                Err(v.data_type())
            }
        }
    }
}

/// The string of a stored column that is never `NULL`.
pub(crate) fn text_at(row: &rusqlite::Row<'_>, idx: usize, col: Col) -> rusqlite::Result<String> {
    // `ok_or_else`: the error holds a `String`, built only on the error path.
    opt_text_at(row, idx, col)?
        .ok_or_else(|| rusqlite::Error::InvalidColumnType(idx, "NULL".into(), Type::Null))
}

/// The string of a stored column, `None` for `NULL`.
pub(crate) fn opt_text_at(
    row: &rusqlite::Row<'_>,
    idx: usize,
    col: Col,
) -> rusqlite::Result<Option<String>> {
    render(col, row.get_ref(idx)?)
        .map_err(|t| rusqlite::Error::InvalidColumnType(idx, format!("{col:?}"), t))
}

/// Appends a stored column as a JSON string (`null` for `NULL`).
pub(crate) fn push_json(col: Col, v: ValueRef<'_>, out: &mut Vec<u8>) -> bool {
    match v {
        ValueRef::Null => out.extend_from_slice(b"null"),
        ValueRef::Text(t) => crate::json::push_str(out, &String::from_utf8_lossy(t)),
        v => {
            out.push(b'"');
            if !push_binary(col, v, out) {
                return false;
            }
            out.push(b'"');
        }
    }
    true
}

/// The stored form of a reason: its [`ReasonCode::number`], or capped free text.
pub(crate) fn encode_reason(reason: Option<&str>) -> ToSqlOutput<'_> {
    match reason {
        None => ToSqlOutput::Owned(Value::Null),
        Some(r) => match r.parse::<ReasonCode>() {
            Ok(code) => ToSqlOutput::Owned(Value::Integer(code.number())),
            Err(_) => {
                ToSqlOutput::Borrowed(ValueRef::Text(crate::reason::cap_reason(r).as_bytes()))
            }
        },
    }
}

/// The reason a stored value says.
pub(crate) fn reason_str<'a>(v: ValueRef<'a>) -> Option<std::borrow::Cow<'a, str>> {
    match v {
        ValueRef::Integer(n) => Some(
            ReasonCode::from_number(n).map_or_else(|| n.to_string().into(), |c| c.as_str().into()),
        ),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t)),
        _ => None,
    }
}

/// Registers the encoders as SQL functions (`compact_did`, `compact_cid`, `compact_b64`,
/// `compact_hex`, `compact_time`, `compact_reason`), which migration 0008 calls to convert
/// an existing index in place, and `did_text` (a stored DID key back to its DID), which
/// migration 0010 calls to join text-keyed rows to `links`.
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("did_text", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Blob(b) => Value::Text(did_from_key(b)),
            other => Value::from(other),
        })
    })?;
    conn.create_scalar_function("compact_did", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => Value::Blob(did_key(&String::from_utf8_lossy(t))),
            other => Value::from(other),
        })
    })?;
    for (name, col) in [
        ("compact_cid", Col::Cid),
        ("compact_b64", Col::Base64),
        ("compact_hex", Col::Hex),
        ("compact_time", Col::Time),
    ] {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t);
                    encode(col, &s).to_value()
                }
                other => Value::from(other),
            })
        })?;
    }
    conn.create_scalar_function("compact_reason", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => {
                let s = String::from_utf8_lossy(t);
                encode_reason(Some(&s)).to_value()
            }
            other => Value::from(other),
        })
    })?;
    Ok(())
}

/// The owned value of a [`ToSqlOutput`].
trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for ToSqlOutput<'_> {
    fn to_value(&self) -> Value {
        match self {
            ToSqlOutput::Borrowed(v) => Value::from(*v),
            ToSqlOutput::Owned(v) => v.clone(),
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(col: Col, s: &str) -> Value {
        encode(col, s).to_value()
    }

    fn back(col: Col, s: &str) -> String {
        render(col, ValueRef::from(&stored(col, s)))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn plc_dids_pack_into_16_bytes_and_keep_their_order() {
        let mut dids = vec![
            "did:plc:ewvi7nxzyoun6zhxrhs64oiz".to_owned(),
            "did:plc:222222222222222222222222".to_owned(),
            "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz".to_owned(),
            "did:plc:a7777777777777777777777a".to_owned(),
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
            "did:plc:2aaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
        ];
        for d in &dids {
            let k = did_key(d);
            assert_eq!(k.len(), 16, "{d}");
            assert_eq!(&did_from_key(&k), d);
        }
        let mut by_key = dids.clone();
        by_key.sort_by_key(|d| did_key(d));
        dids.sort();
        assert_eq!(by_key, dids);
    }

    #[test]
    fn random_plc_identifiers_pack_exactly_when_every_symbol_is_in_the_alphabet() {
        // Symbols drawn from the alphabet plus bytes just outside it.
        let pool = b"234567abcdefghijklmnopqrstuvwxyz018A9{`Z";
        let mut x = 7u64;
        for n in 0..5000 {
            let mut did = DID_PLC.to_owned();
            for _ in 0..24 {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                // Mostly valid identifiers, one in eight with a foreign symbol somewhere.
                let span = if n % 8 == 0 { pool.len() } else { 32 };
                did.push(char::from(pool[(x >> 33) as usize % span]));
            }
            let valid = did[8..].bytes().all(|c| render::PLC_SORTED.contains(&c));
            let key = did_key(&did);
            assert_eq!(key.len() == 16 && key[0] == PLC_TAG, valid, "{did}");
            if !valid {
                assert_eq!(key, did.as_bytes(), "{did}");
            }
            assert_eq!(did_from_key(&key), did);
        }
    }

    #[test]
    fn other_dids_are_stored_as_their_text_after_every_packed_plc() {
        for d in [
            "did:web:example.com",
            "did:plc:short",
            "did:plc:UPPERCASEUPPERCASEUPPERCA",
            "did:plc:ewvi7nxzyoun6zhxrhs64oi1",
        ] {
            let k = did_key(d);
            assert_eq!(k, d.as_bytes());
            assert_eq!(did_from_key(&k), d);
            assert!(k > did_key("did:plc:zzzzzzzzzzzzzzzzzzzzzzzz"));
        }
    }

    #[test]
    fn canonical_values_are_binary_and_render_back_identically() {
        let cases = [
            (
                Col::Cid,
                "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
                36,
            ),
            (Col::Base64, &"q83vEjRWeJq8".repeat(7)[..84], 63),
            (
                Col::Base64,
                "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEg==",
                64,
            ),
            (Col::Hex, &"0123456789abcdef".repeat(4)[..], 32),
        ];
        for (col, s, len) in cases {
            match stored(col, s) {
                Value::Blob(b) => assert_eq!(b.len(), len, "{s}"),
                other => panic!("{s} stored as {other:?}"),
            }
            assert_eq!(back(col, s), s);
        }
        assert_eq!(
            stored(Col::Time, "2026-06-01T12:00:00.000Z"),
            Value::Integer(1_780_315_200_000)
        );
        assert_eq!(
            back(Col::Time, "2026-06-01T12:00:00.000Z"),
            "2026-06-01T12:00:00.000Z"
        );
    }

    #[test]
    fn anything_that_would_not_render_back_is_kept_as_text() {
        let cases = [
            (Col::Cid, "Bafyreie5737"),
            (
                Col::Cid,
                "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpn",
            ),
            (Col::Cid, "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"),
            (Col::Cid, "bafyreib0123456789abcdef"),
            (
                Col::Base64,
                "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEg",
            ),
            (
                Col::Base64,
                "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEh==",
            ),
            (Col::Base64, "not base64!"),
            (Col::Hex, "ABCDEF"),
            (Col::Hex, "abc"),
            (Col::Hex, "zz"),
            (Col::Time, "2026-06-01T12:00:00Z"),
            (Col::Time, "2026-06-01T12:00:00.000+00:00"),
            (Col::Time, "2026-02-30T12:00:00.000Z"),
            (Col::Time, "2026-06-01T12:00:00.000z"),
            (Col::Time, ""),
        ];
        for (col, s) in cases {
            assert_eq!(stored(col, s), Value::Text(s.to_owned()), "{col:?} {s}");
            assert_eq!(back(col, s), s);
        }
    }

    #[test]
    fn reasons_are_numbers_when_they_are_codes_and_capped_text_otherwise() {
        for code in ReasonCode::ALL {
            let v = encode_reason(Some(code.as_str())).to_value();
            assert_eq!(v, Value::Integer(code.number()));
            assert_eq!(reason_str(ValueRef::from(&v)).unwrap(), code.as_str());
        }
        let long = "x".repeat(1000);
        let v = encode_reason(Some(&long)).to_value();
        assert_eq!(v, Value::Text("x".repeat(crate::MAX_REASON_BYTES)));
        assert_eq!(encode_reason(None).to_value(), Value::Null);
    }
}
