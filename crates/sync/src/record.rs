//! Record policy for `org.xmtp.inbox`: lenient reading of a record block into a
//! [`store::RecordInput`].
//!
//! No lexicon is published for `org.xmtp.inbox` (sync doc, section h), so the de-facto
//! convention is validated defensively: rkey `self`; `id` string (or `inboxId`, the XIP-66
//! spelling, when `id` is absent), `verificationSignature` string, `createdAt` datetime;
//! `$type` may be missing (but if present must be `org.xmtp.inbox`); unknown fields are
//! allowed. A record that breaks a rule is still indexed, as `invalid` with a reason
//! (`malformed`), and never stops ingestion.
//!
//! Non-`self` record keys are **ignored** (counted, not indexed). The index holds one link
//! per DID at `at://<did>/org.xmtp.inbox/self`; turning a stray `org.xmtp.inbox/<other>`
//! record into an invalid link would overwrite (and hide) a valid `self` record of the same
//! DID, which would let any junk write degrade a correct link.

use store::RecordInput;

/// The collection the index reads.
pub const INBOX_COLLECTION: &str = "org.xmtp.inbox";
/// The only record key the index reads for `org.xmtp.inbox`.
pub const INBOX_RKEY: &str = "self";
/// Longest `verificationSignature` we keep (a 64-byte signature is 88 base64 chars).
pub const MAX_SIGNATURE_CHARS: usize = 1024;
/// Longest `createdAt` we keep.
pub const MAX_DATETIME_CHARS: usize = 64;
/// Longest inbox ID field we keep verbatim (a valid one is 64).
pub const MAX_INBOX_ID_CHARS: usize = 128;

/// Truncates to at most `max` bytes on a char boundary (stored values stay bounded).
fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Raw string fields found in the record map.
struct Raw<'a> {
    type_: Option<Result<&'a str, ()>>,
    id: Option<Result<&'a str, ()>>,
    inbox_id: Option<Result<&'a str, ()>>,
    sig: Option<Result<&'a str, ()>>,
    created_at: Option<Result<&'a str, ()>>,
}

/// Decodes the record with the repo crate's lenient record policy (non-canonical key order
/// and lengths accepted, anything two parsers could read differently refused) and picks
/// out the string fields.
fn read_raw(block: &[u8]) -> Result<Raw<'_>, String> {
    let decoded =
        repo::cbor::decode(block, &repo::cbor::Limits::RECORD).map_err(|e| e.to_string())?;
    let Some(map) = decoded.value.as_map() else {
        return Err("the top-level item is not a map".into());
    };
    let field = |key: &str| {
        map.get(key).map(|v| match v {
            repo::cbor::Value::Text(s) => Ok(*s),
            _ => Err(()),
        })
    };
    Ok(Raw {
        type_: field("$type"),
        id: field("id"),
        inbox_id: field("inboxId"),
        sig: field("verificationSignature"),
        created_at: field("createdAt"),
    })
}

/// Reads an `org.xmtp.inbox/self` record block (whose CID was already checked) into a
/// [`RecordInput`]. Never fails: problems end up in `malformed`.
pub fn parse_inbox_record(cid: syntax::Cid, block: &[u8]) -> RecordInput {
    let mut out = RecordInput {
        cid,
        inbox_id: String::new(),
        verification_signature: String::new(),
        created_at: String::new(),
        malformed: None,
    };
    let raw = match read_raw(block) {
        Ok(raw) => raw,
        Err(e) => {
            out.malformed = Some(format!("record is not a DAG-CBOR map: {e}"));
            return out;
        }
    };
    let mut problems: Vec<String> = Vec::new();
    match raw.type_ {
        None | Some(Ok("org.xmtp.inbox")) => {}
        Some(Ok(other)) => problems.push(format!("$type is {:?}", bounded(other, 64))),
        Some(Err(())) => problems.push("$type is not a string".into()),
    }
    let id = match (raw.id, raw.inbox_id) {
        (Some(v), _) => Some(("id", v)),
        (None, Some(v)) => Some(("inboxId", v)),
        (None, None) => None,
    };
    match id {
        None => problems.push("missing id".into()),
        Some((name, Err(()))) => problems.push(format!("{name} is not a string")),
        Some((name, Ok(s))) => {
            out.inbox_id = bounded(s, MAX_INBOX_ID_CHARS);
            if syntax::InboxId::parse(s).is_err() {
                problems.push(format!("{name} is not 64 lowercase hex characters"));
            }
        }
    }
    match raw.sig {
        None => problems.push("missing verificationSignature".into()),
        Some(Err(())) => problems.push("verificationSignature is not a string".into()),
        Some(Ok(s)) => {
            out.verification_signature = bounded(s, MAX_SIGNATURE_CHARS);
            if s.len() > MAX_SIGNATURE_CHARS {
                problems.push("verificationSignature is too long".into());
            } else if syntax::base64::node_base64_decode(s).is_empty() {
                // Decoded exactly as the XMTP SDK's reference verifier does (Node's lenient
                // `Buffer.from(s, "base64")`), so no record the SDK would accept is lost
                // here; the verifier then checks the 64-byte length and the signature.
                problems.push("verificationSignature is not base64".into());
            }
        }
    }
    match raw.created_at {
        None => problems.push("missing createdAt".into()),
        Some(Err(())) => problems.push("createdAt is not a string".into()),
        Some(Ok(s)) => {
            out.created_at = bounded(s, MAX_DATETIME_CHARS);
            if s.len() > MAX_DATETIME_CHARS || syntax::Datetime::parse(s).is_err() {
                problems.push("createdAt is not a datetime".into());
            }
        }
    }
    if !problems.is_empty() {
        out.malformed = Some(problems.join("; "));
    }
    out
}

/// Splits an op path into (collection, rkey); `None` unless there is exactly one `/`.
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let (c, k) = path.split_once('/')?;
    if c.is_empty() || k.is_empty() || k.contains('/') {
        return None;
    }
    Some((c, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo::cbor::Encoder;

    const INBOX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn rec(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut f = fields.to_vec();
        f.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(b.0)));
        let mut w = Encoder::new();
        w.map(f.len());
        for (k, v) in f {
            w.text(k).text(v);
        }
        w.into_bytes()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("$type", "org.xmtp.inbox"),
            ("id", INBOX),
            ("verificationSignature", "AAECAwQ="),
            ("createdAt", "2026-07-04T12:00:00.000Z"),
        ]
    }

    #[test]
    fn well_formed_record_is_not_malformed() {
        let r = parse_inbox_record(testkit::ids::cid("bafy"), &rec(&good()));
        assert_eq!(r.malformed, None);
        assert_eq!(r.inbox_id, INBOX);
        assert_eq!(r.verification_signature, "AAECAwQ=");
    }

    #[test]
    fn missing_type_and_unpadded_base64_are_accepted() {
        let mut f = good();
        f.remove(0);
        f[1].1 = "AAECAwQ";
        assert_eq!(
            parse_inbox_record(testkit::ids::cid("c"), &rec(&f)).malformed,
            None
        );
    }

    #[test]
    fn inbox_id_alias_is_read_when_id_is_absent() {
        let mut f = good();
        f[1].0 = "inboxId";
        let r = parse_inbox_record(testkit::ids::cid("c"), &rec(&f));
        assert_eq!(r.malformed, None);
        assert_eq!(r.inbox_id, INBOX);
    }

    #[test]
    fn each_broken_field_is_reported_as_malformed() {
        let upper = "A".repeat(64);
        let cases: Vec<(usize, &str, &str)> = vec![
            (1, "id", "ABC"),
            (1, "id", &upper),
            (2, "verificationSignature", "!!! ***"),
            (3, "createdAt", "yesterday"),
            (0, "$type", "app.bsky.feed.post"),
        ];
        for (i, k, v) in &cases {
            let mut f = good();
            f[*i] = (k, v);
            let r = parse_inbox_record(testkit::ids::cid("c"), &rec(&f));
            assert!(r.malformed.is_some(), "{k}={v}");
        }
        assert_eq!(cases.len(), 5);
    }

    #[test]
    fn non_canonical_key_order_is_read_but_duplicate_keys_are_malformed() {
        // PDSes pass records through verbatim: an odd but unambiguous encoding is kept.
        let mut w = Encoder::new();
        w.map(3)
            .text("verificationSignature")
            .text("AAECAwQ=")
            .text("id")
            .text(INBOX)
            .text("createdAt")
            .text("2026-07-04T12:00:00.000Z");
        let r = parse_inbox_record(testkit::ids::cid("c"), &w.into_bytes());
        assert_eq!(r.malformed, None);
        assert_eq!(r.inbox_id, INBOX);
        // Two readers could disagree on which `id` counts: refused.
        let mut w = Encoder::new();
        w.map(4)
            .text("id")
            .text(INBOX)
            .text("id")
            .text(&"b".repeat(64))
            .text("verificationSignature")
            .text("AAECAwQ=")
            .text("createdAt")
            .text("2026-07-04T12:00:00.000Z");
        assert!(
            parse_inbox_record(testkit::ids::cid("c"), &w.into_bytes())
                .malformed
                .is_some()
        );
    }

    #[test]
    fn signatures_are_read_with_the_sdk_base64_policy() {
        // Node's decoder (the SDK's) skips junk and whitespace: such a record is not
        // malformed here; whether its bytes verify is the XMTP half's decision.
        let mut f = good();
        f[2].1 = "AAEC AwQ*\n";
        assert_eq!(
            parse_inbox_record(testkit::ids::cid("c"), &rec(&f)).malformed,
            None
        );
    }

    #[test]
    fn wrong_types_and_garbage_are_malformed_not_errors() {
        let mut w = Encoder::new();
        w.map(2).text("id").int(5).text("createdAt").bool(true);
        let r = parse_inbox_record(testkit::ids::cid("c"), &w.into_bytes());
        let why = r.malformed.unwrap();
        assert!(why.contains("id is not a string"), "{why}");
        assert!(
            parse_inbox_record(testkit::ids::cid("c"), &[0xff, 0x00])
                .malformed
                .is_some()
        );
        assert!(
            parse_inbox_record(testkit::ids::cid("c"), &[])
                .malformed
                .is_some()
        );
    }

    #[test]
    fn oversize_signature_is_malformed_and_stored_truncated() {
        let mut f = good();
        let long = "A".repeat(5000);
        f[2].1 = &long;
        let r = parse_inbox_record(testkit::ids::cid("c"), &rec(&f));
        assert!(r.malformed.is_some());
        assert_eq!(r.verification_signature.len(), MAX_SIGNATURE_CHARS);
    }

    #[test]
    fn paths_split_at_exactly_one_slash() {
        assert_eq!(
            split_path("org.xmtp.inbox/self"),
            Some(("org.xmtp.inbox", "self"))
        );
        assert_eq!(split_path("org.xmtp.inbox"), None);
        assert_eq!(split_path("a/b/c"), None);
        assert_eq!(split_path("/self"), None);
    }
}
