//! Handle answers: the `_atproto` DNS TXT strings (one per line here) and the
//! `/.well-known/atproto-did` body, both written by whoever controls the domain.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let records: Vec<&str> = text.split('\n').collect();
    if let Ok(did) = identity::parse_txt_did(&records) {
        assert!(records.iter().any(|r| r.contains(did.as_str())));
    }
    if let Ok(did) = identity::parse_well_known_body(data) {
        assert_eq!(did.as_str(), text.trim());
    }
    let _ = syntax::Handle::parse(text.trim());
});
