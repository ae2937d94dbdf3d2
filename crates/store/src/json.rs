//! The link view written straight from a result row into JSON bytes: no `LinkView`, no
//! per-field `String`s. This is the hot path of the batch query methods; a test keeps its
//! output identical to `serde_json` over [`crate::LinkView`].

use rusqlite::Row;
use rusqlite::types::ValueRef;

use crate::time::datetime_bytes;
use crate::types::Status;

/// Appends `s` as a JSON string, escaped exactly as `serde_json` does.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_escaped(out, s);
    out.push(b'"');
}

/// Appends the escaped content of `s`, without quotes.
fn push_escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
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

/// Appends the link view of a `select_links!` row; returns its status.
pub(crate) fn write_link(row: &Row<'_>, out: &mut Vec<u8>) -> rusqlite::Result<Status> {
    let did = text(row, 0)?.unwrap_or_default();
    let status = crate::queries::status_from(row, 3)?;
    out.extend_from_slice(b"{\"did\":");
    push_str(out, did);
    out.extend_from_slice(b",\"handle\":");
    push_opt(out, text(row, 1)?);
    out.extend_from_slice(b",\"inboxId\":");
    push_str(out, text(row, 2)?.unwrap_or_default());
    out.extend_from_slice(b",\"status\":\"");
    out.extend_from_slice(status.as_str().as_bytes());
    out.extend_from_slice(b"\",\"reason\":");
    push_opt(out, text(row, 4)?);
    out.extend_from_slice(b",\"record\":{\"uri\":\"at://");
    push_escaped(out, did);
    out.extend_from_slice(b"/org.xmtp.inbox/self\",\"cid\":");
    push_str(out, text(row, 5)?.unwrap_or_default());
    out.extend_from_slice(b",\"verificationSignature\":");
    push_str(out, text(row, 6)?.unwrap_or_default());
    out.extend_from_slice(b",\"createdAt\":");
    push_str(out, text(row, 7)?.unwrap_or_default());
    out.extend_from_slice(b"},\"installationKey\":");
    push_opt(out, text(row, 8)?);
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
    fn strings_are_escaped_exactly_like_serde_json() {
        let cases = [
            "",
            "plain",
            "quote\" back\\slash",
            "ctl \u{0} \u{1f} \n \r \t \u{8} \u{c} \u{7f}",
            "unicode é 🦀 </script>",
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
