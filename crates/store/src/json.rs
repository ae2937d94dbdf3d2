//! The link view written straight from a result row into JSON bytes: no `LinkView`, no
//! per-field `String`s. This is the hot path of the batch query methods; a test keeps its
//! output identical to `serde_json` over [`crate::LinkView`].

use rusqlite::Row;
use rusqlite::types::ValueRef;

use crate::compact::{Col, push_did_json, push_json, reason_str};
use crate::time::datetime_bytes;
use crate::types::Status;

/// Appends `s` as a JSON string, escaped exactly as `serde_json` does.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_escaped(out, s);
    out.push(b'"');
}

/// True when one of the 8 bytes of `x` is a control character, `"` or `\\`.
#[inline]
fn needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte below 0x20 (its high bit clear, so non-ASCII bytes never count).
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    let eq = |c: u64| {
        let y = x ^ (ONES * c);
        y.wrapping_sub(ONES) & !y & HIGH
    };
    (below_space | eq(u64::from(b'"')) | eq(u64::from(b'\\'))) != 0
}

/// Appends the escaped content of `s`, without quotes. Link-view strings almost never need
/// escaping, so 8 bytes are checked at a time and copied whole when clean.
pub(crate) fn push_escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut clean = 0;
    while clean + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[clean..clean + 8]);
        if needs_escape(u64::from_le_bytes(word)) {
            break;
        }
        clean += 8;
    }
    out.extend_from_slice(&bytes[..clean]);
    let mut start = clean;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

fn text<'r>(row: &'r Row<'_>, idx: usize) -> rusqlite::Result<Option<&'r str>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        v => v.as_str().map(Some).map_err(Into::into),
    }
}

fn push_opt(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => push_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_time(out: &mut Vec<u8>, ms: Option<i64>) {
    match ms {
        Some(ms) => {
            out.push(b'"');
            out.extend_from_slice(&datetime_bytes(ms));
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends stored column `idx` of `row` as a JSON string.
fn push_col(row: &Row<'_>, idx: usize, col: Col, out: &mut Vec<u8>) -> rusqlite::Result<()> {
    let v = row.get_ref(idx)?;
    if push_json(col, v, out) {
        Ok(())
    } else {
        Err(rusqlite::Error::InvalidColumnType(
            idx,
            format!("{col:?}"),
            v.data_type(),
        ))
    }
}

/// Appends the link view of a `select_links!` row; returns its status.
pub(crate) fn write_link(row: &Row<'_>, out: &mut Vec<u8>) -> rusqlite::Result<Status> {
    write_link_keyed(row, row.get_ref(0)?.as_bytes()?, out)
}

/// [`write_link`] for a caller that already holds the row's stored DID key (column 0).
pub(crate) fn write_link_keyed(
    row: &Row<'_>,
    did: &[u8],
    out: &mut Vec<u8>,
) -> rusqlite::Result<Status> {
    let status = crate::queries::status_from(row, 3)?;
    out.extend_from_slice(b"{\"did\":\"");
    let did_at = out.len();
    push_did_json(did, out);
    let did_json = did_at..out.len();
    out.extend_from_slice(b"\",\"handle\":");
    push_opt(out, text(row, 1)?);
    out.extend_from_slice(b",\"inboxId\":");
    push_col(row, 2, Col::Hex, out)?;
    out.extend_from_slice(b",\"status\":\"");
    out.extend_from_slice(status.as_str().as_bytes());
    out.extend_from_slice(b"\",\"reason\":");
    push_opt(out, reason_str(row.get_ref(4)?).as_deref());
    out.extend_from_slice(b",\"record\":{\"uri\":\"at://");
    out.extend_from_within(did_json);
    out.extend_from_slice(b"/org.xmtp.inbox/self\",\"cid\":");
    push_col(row, 5, Col::Cid, out)?;
    out.extend_from_slice(b",\"verificationSignature\":");
    push_col(row, 6, Col::Base64, out)?;
    out.extend_from_slice(b",\"createdAt\":");
    push_col(row, 7, Col::Time, out)?;
    out.extend_from_slice(b"},\"installationKey\":");
    push_col(row, 8, Col::Hex, out)?;
    out.extend_from_slice(b",\"verifiedAt\":");
    push_time(out, row.get(9)?);
    out.extend_from_slice(b",\"indexedAt\":");
    push_time(out, Some(row.get(10)?));
    out.push(b'}');
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_check_finds_every_byte_that_needs_escaping() {
        for b in 0u8..=255 {
            for pos in 0..8 {
                let mut word = [b'a'; 8];
                word[pos] = b;
                let expect = b < 0x20 || b == b'"' || b == b'\\';
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    expect,
                    "byte {b:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn strings_are_escaped_exactly_like_serde_json() {
        let cases = [
            "",
            "plain",
            "quote\" back\\slash",
            "ctl \u{0} \u{1f} \n \r \t \u{8} \u{c} \u{7f}",
            "unicode é 🦀 </script>",
            "eight-ok\"then escape after a clean word",
            "0123456789abcdef0123456789abcdef\\",
            "\u{1f}234567\u{7f}\u{80}ÿ \u{20}!#$%&'()*+,-./",
        ];
        for s in cases {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }
}
