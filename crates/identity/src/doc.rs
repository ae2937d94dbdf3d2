//! DID document parsing: the parts atproto uses (`id`, the claimed handle from
//! `alsoKnownAs`, the `#atproto` signing key, the `#atproto_pds` endpoint).

use repo::{Curve, PublicKey};
use serde_json::Value;
use syntax::{Did, Handle};

use crate::error::IdentityError;

/// The atproto view of a DID document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidDocument {
    /// The DID (equal to the requested one).
    pub did: Did,
    /// The claimed handle: the first `at://` entry of `alsoKnownAs` that is a valid handle
    /// (lowercased). Must be verified bidirectionally before display.
    pub handle: Option<Handle>,
    /// All `alsoKnownAs` entries as given.
    pub also_known_as: Vec<String>,
    /// The `#atproto` signing key, if present and valid.
    pub signing_key: Option<PublicKey>,
    /// The `#atproto_pds` endpoint (scheme + host [+ port], no trailing slash).
    pub pds: Option<String>,
}

fn fragment_matches(id: &str, did: &str, fragment: &str) -> bool {
    id == fragment || id.strip_prefix(did) == Some(fragment)
}

impl DidDocument {
    /// Parses a document from JSON bytes; `id` must equal `expected`.
    pub fn parse(bytes: &[u8], expected: &Did) -> Result<Self, IdentityError> {
        let json: Value = serde_json::from_slice(bytes)
            .map_err(|e| IdentityError::InvalidDocument(format!("not JSON: {e}")))?;
        Self::from_json(&json, expected)
    }

    /// Parses a document from JSON; `id` must equal `expected`.
    pub fn from_json(json: &Value, expected: &Did) -> Result<Self, IdentityError> {
        let id = json
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| IdentityError::InvalidDocument("missing id".into()))?;
        if id != expected.as_str() {
            return Err(IdentityError::InvalidDocument(format!(
                "id {id} is not the requested DID"
            )));
        }
        let did = expected.as_str();
        let also_known_as: Vec<String> = json
            .get("alsoKnownAs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let handle = also_known_as
            .iter()
            .filter_map(|aka| aka.strip_prefix("at://"))
            .find_map(|h| Handle::parse(h).ok());
        let signing_key = json
            .get("verificationMethod")
            .and_then(Value::as_array)
            .and_then(|methods| {
                methods.iter().find(|m| {
                    m.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| fragment_matches(id, did, "#atproto"))
                })
            })
            .and_then(|m| parse_method(m, did));
        let pds = json
            .get("service")
            .and_then(Value::as_array)
            .and_then(|services| {
                services.iter().find(|s| {
                    s.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| fragment_matches(id, did, "#atproto_pds"))
                        && s.get("type").and_then(Value::as_str)
                            == Some("AtprotoPersonalDataServer")
                })
            })
            .and_then(|s| s.get("serviceEndpoint").and_then(Value::as_str))
            .and_then(normalize_endpoint);
        Ok(DidDocument {
            did: expected.clone(),
            handle,
            also_known_as,
            signing_key,
            pds,
        })
    }
}

/// Parses a verification method: `Multikey`, or the legacy secp256k1/r1 2019 types whose
/// `publicKeyMultibase` is a bare (usually uncompressed) point without multicodec.
fn parse_method(m: &Value, did: &str) -> Option<PublicKey> {
    if let Some(controller) = m.get("controller").and_then(Value::as_str)
        && controller != did
    {
        return None;
    }
    let mb = m.get("publicKeyMultibase").and_then(Value::as_str)?;
    match m.get("type").and_then(Value::as_str)? {
        "Multikey" => PublicKey::from_multibase(mb).ok(),
        "EcdsaSecp256k1VerificationKey2019" => PublicKey::from_legacy_multibase(Curve::K256, mb)
            .or_else(|_| {
                PublicKey::from_multibase(mb)
                    .map_err(|_| ())
                    .and_then(|k| check_curve(k, Curve::K256))
            })
            .ok(),
        "EcdsaSecp256r1VerificationKey2019" => PublicKey::from_legacy_multibase(Curve::P256, mb)
            .or_else(|_| {
                PublicKey::from_multibase(mb)
                    .map_err(|_| ())
                    .and_then(|k| check_curve(k, Curve::P256))
            })
            .ok(),
        _ => None,
    }
}

fn check_curve(k: PublicKey, curve: Curve) -> Result<PublicKey, ()> {
    if k.curve() == curve { Ok(k) } else { Err(()) }
}

/// Accepts `http(s)://host[:port][/]` only and strips the trailing slash.
fn normalize_endpoint(s: &str) -> Option<String> {
    let url = reqwest::Url::parse(s).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return None;
    }
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return None;
    }
    Some(s.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/peers/indigo/atproto/identity/testdata"
    );

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}/{name}"))
            .unwrap_or_else(|e| panic!("test vector {DIR}/{name} missing: {e}"))
    }

    #[test]
    fn current_and_legacy_plc_documents_give_the_same_identity() {
        let did = Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap();
        let current = DidDocument::parse(&read("did_plc_doc.json"), &did).unwrap();
        let legacy = DidDocument::parse(&read("did_plc_doc_legacy.json"), &did).unwrap();
        for doc in [&current, &legacy] {
            assert_eq!(doc.handle.as_ref().map(Handle::as_str), Some("atproto.com"));
            assert_eq!(doc.pds.as_deref(), Some("https://bsky.social"));
            assert_eq!(doc.signing_key.unwrap().curve(), Curve::K256);
        }
        assert_eq!(current.signing_key, legacy.signing_key);
        assert_eq!(
            current.signing_key.unwrap().did_key(),
            "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"
        );
    }

    #[test]
    fn did_web_service_document_parses_without_key_or_pds() {
        let did = Did::parse("did:web:discover.bsky.social").unwrap();
        let doc = DidDocument::parse(&read("did_web_doc.json"), &did).unwrap();
        assert_eq!(doc.signing_key, None);
        assert_eq!(doc.pds, None);
    }

    #[test]
    fn document_for_another_did_is_rejected() {
        let did = Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        let err = DidDocument::parse(&read("did_plc_doc.json"), &did).unwrap_err();
        assert!(matches!(err, IdentityError::InvalidDocument(_)), "{err:?}");
        assert!(matches!(
            DidDocument::parse(b"[1,", &did),
            Err(IdentityError::InvalidDocument(_))
        ));
    }

    #[test]
    fn first_valid_at_handle_wins_and_bad_entries_are_skipped() {
        let did = Did::parse("did:plc:abc").unwrap();
        let json = serde_json::json!({
            "id": "did:plc:abc",
            "alsoKnownAs": ["https://example.com", "at://not a handle", "at://Alice.Example.COM", "at://bob.example.com"],
            "verificationMethod": [
                {"id": "#atproto", "type": "Multikey", "controller": "did:plc:other",
                 "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}
            ],
            "service": [
                {"id": "#atproto_pds", "type": "Other", "serviceEndpoint": "https://wrong.example"},
                {"id": "did:plc:abc#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example/"}
            ]
        });
        let doc = DidDocument::from_json(&json, &did).unwrap();
        assert_eq!(doc.handle.unwrap().as_str(), "alice.example.com");
        assert_eq!(doc.signing_key, None, "controller mismatch rejects the key");
        assert_eq!(doc.pds.as_deref(), Some("https://pds.example"));
    }

    #[test]
    fn pds_endpoints_with_paths_or_odd_schemes_are_ignored() {
        for bad in [
            "ftp://pds.example",
            "https://pds.example/xrpc",
            "not a url",
            "https://u@pds.example",
        ] {
            assert_eq!(normalize_endpoint(bad), None, "{bad}");
        }
        assert_eq!(
            normalize_endpoint("http://localhost:2583").as_deref(),
            Some("http://localhost:2583")
        );
    }
}
