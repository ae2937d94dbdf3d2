//! DAG-CBOR reader/writer tests: interop data-model fixtures, real records, and hand-made
//! non-canonical records that must still be readable in lenient mode.

use crate::cbor::{self, CborError, JsonError, Limits, Value, json_to_cbor, to_json};
use crate::cid_util::cid_for_cbor;
use crate::test_vectors::{b64, json, read};

#[test]
fn data_model_fixtures_encode_decode_and_hash_exactly() {
    let cases = json("atproto-interop-tests/data-model/data-model-fixtures.json");
    let mut ran = 0;
    for case in cases.as_array().unwrap() {
        let expected = b64(case["cbor_base64"].as_str().unwrap());
        let ours = json_to_cbor(&case["json"]).unwrap();
        assert_eq!(ours, expected, "JSON -> CBOR");
        assert_eq!(
            cid_for_cbor(&ours).to_string(),
            case["cid"].as_str().unwrap()
        );
        let decoded = cbor::decode(&expected, &Limits::STRICT).unwrap();
        assert!(decoded.canonical);
        assert_eq!(
            cbor::encode(&decoded.value).unwrap(),
            expected,
            "decode -> encode"
        );
        assert_eq!(to_json(&decoded.value), case["json"], "CBOR -> JSON");
        // Cross-check with serde_ipld_dagcbor.
        let ipld: ipld_core::ipld::Ipld = serde_ipld_dagcbor::from_slice(&expected).unwrap();
        assert_eq!(serde_ipld_dagcbor::to_vec(&ipld).unwrap(), expected);
        ran += 1;
    }
    assert_eq!(ran, 3);
}

#[test]
fn data_model_valid_json_encodes_and_every_invalid_case_is_rejected_for_its_reason() {
    let valid = json("atproto-interop-tests/data-model/data-model-valid.json");
    let mut ran = 0;
    for case in valid.as_array().unwrap() {
        let bytes = json_to_cbor(&case["json"]).unwrap_or_else(|e| panic!("{}: {e}", case["note"]));
        assert!(cbor::decode(&bytes, &Limits::STRICT).unwrap().canonical);
        ran += 1;
    }
    assert_eq!(ran, 5);
    let invalid = json("atproto-interop-tests/data-model/data-model-invalid.json");
    let expected = |note: &str| match note {
        "top-level not an object" => JsonError::NotAnObject,
        "float" => JsonError::Float("123.456".into()),
        "record with $type null"
        | "record with $type wrong type"
        | "record with empty $type string" => JsonError::Type,
        "blob with string size" => JsonError::Blob("size is not an integer"),
        "blob with missing key" => JsonError::Blob("no ref link"),
        "bytes with wrong field type" | "bytes with extra fields" => JsonError::Special("$bytes"),
        "link with wrong field type" | "link with bogus CID" | "link with extra fields" => {
            JsonError::Special("$link")
        }
        other => panic!("new data-model-invalid case {other:?}: give it an expected reason"),
    };
    let mut ran = 0;
    for case in invalid.as_array().unwrap() {
        let note = case["note"].as_str().unwrap();
        assert_eq!(json_to_cbor(&case["json"]), Err(expected(note)), "{note}");
        ran += 1;
    }
    assert_eq!(ran, 12);
}

#[test]
fn real_records_decode_strictly_and_round_trip() {
    let mut ran = 0;
    for f in ["feedpost_record.cbor", "post_richtext_link.cbor"] {
        let bytes = read(&format!("peers/indigo/testing/testdata/{f}"));
        let d = cbor::decode(&bytes, &Limits::STRICT).unwrap();
        assert!(d.canonical);
        let m = d.value.as_map().unwrap();
        assert_eq!(m.get_str("$type"), Some("app.bsky.feed.post"));
        assert_eq!(cbor::encode(&d.value).unwrap(), bytes);
        ran += 1;
    }
    assert_eq!(ran, 2);
}

/// `{"$type": "org.xmtp.inbox", "id": "abc"}` with keys in the wrong order.
const UNORDERED: &[u8] = b"\xa2\x65\x24\x74\x79\x70\x65\x6eorg.xmtp.inbox\x62id\x63abc";

#[test]
fn non_canonical_key_order_is_read_leniently_and_flagged() {
    let d = cbor::decode(UNORDERED, &Limits::RECORD).unwrap();
    assert!(!d.canonical);
    let m = d.value.as_map().unwrap();
    assert_eq!(m.get_str("id"), Some("abc"));
    assert_eq!(m.get_str("$type"), Some("org.xmtp.inbox"));
    assert_eq!(
        cbor::decode(UNORDERED, &Limits::STRICT),
        Err(CborError::KeyOrder)
    );
    // Re-encoding canonicalises (and so changes the CID: records are kept as their bytes).
    let canon = cbor::encode(&d.value).unwrap();
    assert!(cbor::decode(&canon, &Limits::STRICT).unwrap().canonical);
}

#[test]
fn non_minimal_integers_and_lengths_are_read_leniently() {
    // {"n": 5} with 5 as a one-byte argument (0x18 0x05), key length as 0x78 0x01.
    let bytes = b"\xa1\x78\x01n\x18\x05";
    let d = cbor::decode(bytes, &Limits::RECORD).unwrap();
    assert!(!d.canonical);
    assert_eq!(d.value.as_map().unwrap().get("n"), Some(&Value::Int(5)));
    assert_eq!(
        cbor::decode(bytes, &Limits::STRICT),
        Err(CborError::NonMinimal)
    );
}

#[test]
fn floats_are_read_leniently_but_not_strictly() {
    // {"x": 1.5} as f64, and as f16.
    let f64_rec = b"\xa1\x61x\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00";
    let f16_rec = b"\xa1\x61x\xf9\x3e\x00";
    for rec in [&f64_rec[..], &f16_rec[..]] {
        let d = cbor::decode(rec, &Limits::RECORD).unwrap();
        assert_eq!(d.value.as_map().unwrap().get("x"), Some(&Value::Float(1.5)));
        assert_eq!(cbor::decode(rec, &Limits::STRICT), Err(CborError::Float));
    }
}

#[test]
fn ambiguous_or_unbounded_inputs_are_rejected_in_every_mode() {
    let cases: &[(&[u8], CborError)] = &[
        (
            b"\xa2\x61a\x01\x61a\x02",
            CborError::DuplicateKey("a".into()),
        ),
        (
            b"\xa3\x61b\x01\x61a\x02\x61b\x03",
            CborError::DuplicateKey("b".into()),
        ),
        (b"\xa1\x01\x02", CborError::NonStringKey),
        (b"\x9f\x01\xff", CborError::Indefinite),
        (b"\x7f\x61a\xff", CborError::Indefinite),
        (b"\xc1\x01", CborError::Tag(1)),
        (b"\xf7", CborError::Unsupported(0xf7)),
        (b"\x62\xff\xfe", CborError::Utf8),
        (b"\x01\x02", CborError::TrailingBytes),
        (b"\x83\x01", CborError::Truncated),
        (
            b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff",
            CborError::Truncated,
        ),
        (
            b"\xd8\x2a\x41\x01",
            CborError::BadLink("missing 0x00 multibase prefix".into()),
        ),
    ];
    for (bytes, err) in cases {
        assert_eq!(
            cbor::decode(bytes, &Limits::RECORD).as_ref().err(),
            Some(err),
            "{bytes:02x?}"
        );
    }
    let deep = [vec![0x81u8; 100], vec![0x01]].concat();
    assert_eq!(
        cbor::decode(&deep, &Limits::RECORD),
        Err(CborError::TooDeep)
    );
    let many = [vec![0x99u8, 0x03, 0xe8], vec![0x01; 1000]].concat();
    let tight = Limits {
        max_items: 100,
        ..Limits::RECORD
    };
    assert_eq!(cbor::decode(&many, &tight), Err(CborError::TooManyItems));
    assert!(cbor::decode(&many, &Limits::RECORD).is_ok());
}

#[test]
fn every_truncation_of_a_record_is_an_error_not_a_panic() {
    let bytes = read("peers/indigo/testing/testdata/post_richtext_link.cbor");
    for n in 0..bytes.len() {
        assert!(
            cbor::decode(&bytes[..n], &Limits::RECORD).is_err(),
            "prefix {n}"
        );
    }
    // Flip each byte: must never panic (result may be Ok or Err).
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let _ = cbor::decode(&b, &Limits::RECORD);
    }
}

#[test]
fn links_decode_to_cids() {
    let cid = cid_for_cbor(b"x");
    let mut e = cbor::Encoder::new();
    e.map(1).text("l").link(&cid);
    let bytes = e.into_bytes();
    let d = cbor::decode(&bytes, &Limits::STRICT).unwrap();
    assert_eq!(d.value.as_map().unwrap().get("l"), Some(&Value::Link(cid)));
}
