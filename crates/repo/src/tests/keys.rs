//! Key and signature tests against the interop crypto fixtures.

use crate::keys::{Curve, KeyError, PrivateKey, PublicKey};
use crate::test_vectors::{b64, json};

#[test]
fn signature_fixtures_all_cases_match_expected_validity() {
    let cases = json("atproto-interop-tests/crypto/signature-fixtures.json");
    let cases = cases.as_array().unwrap();
    let mut ran = 0;
    for case in cases {
        let msg = b64(case["messageBase64"].as_str().unwrap());
        let sig = b64(case["signatureBase64"].as_str().unwrap());
        let did_key = PublicKey::from_did_key(case["publicKeyDid"].as_str().unwrap()).unwrap();
        let curve = match case["algorithm"].as_str().unwrap() {
            "ES256K" => Curve::K256,
            "ES256" => Curve::P256,
            other => panic!("unknown alg {other}"),
        };
        assert_eq!(did_key.curve(), curve);
        let legacy =
            PublicKey::from_legacy_multibase(curve, case["publicKeyMultibase"].as_str().unwrap())
                .unwrap();
        assert_eq!(legacy, did_key, "legacy multibase decodes to the same key");
        let expected = case["validSignature"].as_bool().unwrap();
        let result = did_key.verify(&msg, &sig);
        assert_eq!(result.is_ok(), expected, "{}: {result:?}", case["comment"]);
        let tags: Vec<&str> = case["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        if tags.contains(&"high-s") {
            assert_eq!(result, Err(KeyError::HighS));
        }
        if tags.contains(&"der-encoded") {
            assert!(
                matches!(result, Err(KeyError::SignatureLength(_))),
                "{result:?}"
            );
        }
        ran += 1;
    }
    assert_eq!(ran, 6);
}

#[test]
fn w3c_k256_private_keys_derive_expected_did_keys() {
    let cases = json("atproto-interop-tests/crypto/w3c_didkey_K256.json");
    let mut ran = 0;
    for case in cases.as_array().unwrap() {
        let sk = hex::decode(case["privateKeyBytesHex"].as_str().unwrap()).unwrap();
        let key = PrivateKey::from_bytes(Curve::K256, &sk).unwrap();
        let expected = case["publicDidKey"].as_str().unwrap();
        assert_eq!(key.did_key(), expected);
        assert_eq!(PublicKey::from_did_key(expected).unwrap(), key.public_key());
        ran += 1;
    }
    assert_eq!(ran, 5);
}

#[test]
fn w3c_p256_private_keys_derive_expected_did_keys() {
    let cases = json("atproto-interop-tests/crypto/w3c_didkey_P256.json");
    let mut ran = 0;
    for case in cases.as_array().unwrap() {
        let (_, sk) = multibase::decode(format!(
            "z{}",
            case["privateKeyBytesBase58"].as_str().unwrap()
        ))
        .unwrap();
        let key = PrivateKey::from_bytes(Curve::P256, &sk).unwrap();
        let expected = case["publicDidKey"].as_str().unwrap();
        assert_eq!(key.did_key(), expected);
        assert_eq!(PublicKey::from_did_key(expected).unwrap(), key.public_key());
        ran += 1;
    }
    assert_eq!(ran, 1);
}

#[test]
fn signatures_are_low_s_and_verify_on_both_curves() {
    for curve in [Curve::K256, Curve::P256] {
        let key = PrivateKey::generate(curve);
        let public = key.public_key();
        for i in 0..32u8 {
            let msg = [i; 40];
            let sig = key.sign(&msg);
            // s is the second half; low-S means s <= n/2, i.e. its top bit is clear for both
            // curves (n/2 < 2^255).
            assert!(sig[32] < 0x80, "high-S produced on {curve:?}");
            public.verify(&msg, &sig).unwrap();
            assert_eq!(public.verify(b"other", &sig), Err(KeyError::BadSignature));
        }
        let round = PrivateKey::from_bytes(curve, &key.to_bytes()).unwrap();
        assert_eq!(round.public_key(), public);
        assert_eq!(
            PublicKey::from_multibase(&public.multibase()).unwrap(),
            public
        );
    }
}

#[test]
fn malformed_keys_are_rejected_not_panicking() {
    assert_eq!(
        PublicKey::from_did_key("did:plc:abc"),
        Err(KeyError::NotDidKey)
    );
    assert!(PublicKey::from_did_key("did:key:z").is_err());
    assert!(PublicKey::from_did_key("did:key:zzzzzz").is_err());
    assert_eq!(
        PublicKey::from_multicodec(&[0xed, 0x01, 1, 2]),
        Err(KeyError::UnsupportedCodec)
    );
    assert_eq!(
        PublicKey::from_multicodec(&[0xe7, 0x01, 2, 0]),
        Err(KeyError::InvalidPoint)
    );
    assert!(PublicKey::from_multibase("mAAAA").is_err());
    let key = PrivateKey::generate(Curve::K256).public_key();
    assert_eq!(
        key.verify(b"m", &[0u8; 64]),
        Err(KeyError::SignatureMalformed)
    );
    assert_eq!(
        key.verify(b"m", &[1u8; 70]),
        Err(KeyError::SignatureLength(70))
    );
}
