//! The opaque `listLinks` cursor: the last DID of a page, hex-encoded behind a version tag, so
//! clients cannot mistake it for anything they should build themselves.

use crate::error::StoreError;

const PREFIX: &str = "v1.";

/// Encodes the last key of a page.
pub(crate) fn encode(last_did: &str) -> String {
    let mut s = String::with_capacity(PREFIX.len() + last_did.len() * 2);
    s.push_str(PREFIX);
    for b in last_did.bytes() {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Decodes a cursor produced by [`encode`].
pub(crate) fn decode(cursor: &str) -> Result<String, StoreError> {
    let hex = cursor
        .strip_prefix(PREFIX)
        .ok_or(StoreError::BadCursor("not a cursor from this server"))?;
    if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 4096 {
        return Err(StoreError::BadCursor("bad length"));
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(StoreError::BadCursor("not hex")),
    };
    let bytes = hex
        .as_bytes()
        .chunks(2)
        .map(|p| Ok((nibble(p[0])? << 4) | nibble(p[1])?))
        .collect::<Result<Vec<u8>, StoreError>>()?;
    String::from_utf8(bytes).map_err(|_| StoreError::BadCursor("not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let c = encode("did:plc:abc");
        assert_eq!(decode(&c).unwrap(), "did:plc:abc");
        assert!(decode("did:plc:abc").is_err());
        assert!(decode("v1.").is_err());
        assert!(decode("v1.zz").is_err());
        assert!(decode("v1.abc").is_err());
        assert!(decode("v1.ff").is_err());
    }
}
