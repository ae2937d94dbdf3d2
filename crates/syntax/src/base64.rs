//! Our deliberate base64 policy for `verificationSignature`: decode exactly like Node's
//! `Buffer.from(s, "base64")`, which the reference verifier (the XMTP Node SDK) uses.
//!
//! Why lenient: a strict decoder would reject records that the SDK accepts, and then our
//! verdicts would differ from the reference. The rules (confirmed by the `b64-*` vectors):
//! both alphabets (`+`/`-` = 62, `/`/`_` = 63), even mixed; every other character is
//! skipped; decoding stops at the first `=`; padding is optional; a trailing group of 2 or 3
//! symbols yields 1 or 2 bytes, a lone trailing symbol yields nothing. Like Node's legacy
//! decoder, each UTF-16 code unit is truncated to its low byte before the alphabet lookup,
//! and the output is capped at Node's size estimate (`base64ByteLength`).

/// The value of one base64 symbol in either alphabet, or `None`.
fn symbol(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Node's `base64ByteLength(str, str.length)`: the buffer size `Buffer.from` allocates.
fn node_estimate(units: &[u16]) -> usize {
    let mut n = units.len();
    if n > 0 && units[n - 1] == u16::from(b'=') {
        n -= 1;
        if n > 1 && units[n - 1] == u16::from(b'=') {
            n -= 1;
        }
    }
    n.saturating_mul(3) >> 2
}

/// Decodes `s` as Node's `Buffer.from(s, "base64")` does. Never fails.
pub fn node_base64_decode(s: &str) -> Vec<u8> {
    let units: Vec<u16> = s.encode_utf16().collect();
    let cap = node_estimate(&units);
    let mut out = Vec::with_capacity(cap.min(1024));
    let mut group = [0u8; 4];
    let mut filled = 0usize;
    for &unit in &units {
        // Node's legacy decoder reads `static_cast<uint8_t>(src[i])`.
        let c = (unit & 0xff) as u8;
        match symbol(c) {
            Some(v) => {
                group[filled] = v;
                filled += 1;
                if filled == 4 {
                    out.push((group[0] << 2) | (group[1] >> 4));
                    out.push((group[1] << 4) | (group[2] >> 2));
                    out.push((group[2] << 6) | group[3]);
                    filled = 0;
                }
            }
            None if c == b'=' => break,
            None => {}
        }
    }
    if filled >= 2 {
        out.push((group[0] << 2) | (group[1] >> 4));
    }
    if filled == 3 {
        out.push((group[1] << 4) | (group[2] >> 2));
    }
    out.truncate(cap);
    out
}

/// Standard base64 with padding: what we (and the SDK users) put in records.
pub fn encode_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_optional_and_partial_groups_decode() {
        assert_eq!(node_base64_decode("QQ=="), b"A");
        assert_eq!(node_base64_decode("QQ"), b"A");
        assert_eq!(node_base64_decode("QUI"), b"AB");
        assert_eq!(node_base64_decode("Q"), b"");
    }

    #[test]
    fn decoding_stops_at_first_equals_sign() {
        assert_eq!(node_base64_decode("QUJD=QUJD"), b"ABC");
    }

    #[test]
    fn junk_is_skipped_and_alphabets_mix() {
        assert_eq!(node_base64_decode(" Q U\nJ D "), b"ABC");
        assert_eq!(node_base64_decode("-_-_"), node_base64_decode("+/+/"));
    }
}
