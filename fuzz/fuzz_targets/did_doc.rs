//! DID document parsing (PLC and did:web answers, from hosts anyone can run): never a panic;
//! the `#atproto_pds` endpoint it yields goes through the SSRF URL check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syntax::Did;

fuzz_target!(|data: &[u8]| {
    // The DID the resolver asked for: the document's own id when it is a valid DID, so that
    // mutations get past the id check; otherwise a fixed one.
    let expected = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.get("id")?.as_str().and_then(|s| Did::parse(s).ok()))
        .or_else(|| Did::parse("did:web:fuzz.example").ok());
    let Some(expected) = expected else { return };
    let Ok(doc) = identity::DidDocument::parse(data, &expected) else {
        return;
    };
    assert_eq!(doc.did, expected);
    if let Some(pds) = &doc.pds {
        assert!(!pds.ends_with('/'), "endpoint not normalised: {pds}");
        if let Ok(url) = url::Url::parse(pds) {
            let _ = identity::check_url(&url, false);
        }
    }
});
